import { Fieldset, Text } from '@mantine/core';
import { useComputedColorScheme } from '@mantine/core';
import { json } from '@codemirror/lang-json';
import CodeMirror from '@uiw/react-codemirror';
import { useMemo, useState } from 'react';
import { advancedText, keptCredentials, parseAdvanced, ADVANCED_KEYS } from '../lib/advanced';
import type { Action } from '../lib/model';

/**
 * Header rewriting, authentication, source-IP access, CORS and fault
 * injection as JSON, with the server's problems about them listed below.
 */
export function AdvancedPolicies({
  value,
  onChange,
  errors,
  readOnly,
}: {
  value: Action;
  onChange: (patch: Partial<Action>) => void;
  errors: string[];
  readOnly?: boolean;
}) {
  const scheme = useComputedColorScheme('light');
  const [text, setText] = useState(() => advancedText(value));
  const [syntax, setSyntax] = useState<string | null>(null);
  const extensions = useMemo(() => [json()], []);
  const onText = (t: string) => {
    setText(t);
    const r = parseAdvanced(t);
    if ('error' in r) {
      setSyntax(r.error);
      return;
    }
    setSyntax(null);
    const patch: Partial<Action> = {};
    for (const k of ADVANCED_KEYS) (patch as Record<string, unknown>)[k] = (r.value as Record<string, unknown>)[k];
    onChange(patch);
  };
  const problems = [...(syntax ? [syntax] : []), ...errors];
  const kept = keptCredentials(value);
  return (
    <Fieldset legend="Headers, auth, access, CORS, faults (JSON)">
      <div data-testid="advanced-policies">
        <CodeMirror
          value={text}
          onChange={onText}
          extensions={extensions}
          theme={scheme === 'dark' ? 'dark' : 'light'}
          readOnly={readOnly}
          minHeight="70px"
          placeholder='{"headers": {"request": {"set": {"x-team": "shop"}}}, "cors": {"allowOrigins": ["*"]}}'
          basicSetup={{ foldGutter: false, autocompletion: false }}
          style={{ border: `1px solid ${problems.length ? 'var(--mantine-color-red-6)' : 'var(--mantine-color-default-border)'}`, borderRadius: 4 }}
        />
        {kept > 0 && (
          <Text size="xs" c="dimmed" mt={4} data-testid="kept-credentials">
            {kept === 1 ? '1 stored credential is' : `${kept} stored credentials are`} unchanged (passwords, API keys, JWKS): they show as
            fingerprints (fp:…) and are kept as long as you leave them. Write a new value in place of one to change it.
          </Text>
        )}
        {problems.map((p, i) => (
          <Text key={i} c="red" size="xs" mt={4} role="alert">{p}</Text>
        ))}
      </div>
    </Fieldset>
  );
}
