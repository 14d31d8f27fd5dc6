import { Text } from '@mantine/core';
import { useComputedColorScheme } from '@mantine/core';
import { StreamLanguage } from '@codemirror/language';
import CodeMirror, { EditorView } from '@uiw/react-codemirror';
import { useMemo } from 'react';
import type { ConditionSyntaxError } from '../lib/conditionText';

// Highlighting for the condition language: strings, field names, operators.
const conditionLanguage = StreamLanguage.define<null>({
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match(/"(?:[^"\\]|\\.)*"?/)) return 'string';
    if (stream.match(/&&|\|\||==|!=|!/)) return 'operator';
    if (stream.match(/(?:in|not|ignoreCase)\b/)) return 'keyword';
    if (stream.match(/(?:host|path|method|scheme|header|query|cookie|grpc)\b/)) return 'variableName';
    if (stream.match(/[A-Za-z_][A-Za-z0-9_]*/)) return 'propertyName';
    stream.next();
    return 'punctuation';
  },
});

export interface ConditionTextEditorProps {
  value: string;
  onChange: (text: string) => void;
  error?: ConditionSyntaxError | null;
  readOnly?: boolean;
}

/** The condition as text in a code editor; a syntax error shows its place under the text. */
export function ConditionTextEditor({ value, onChange, error, readOnly }: ConditionTextEditorProps) {
  const scheme = useComputedColorScheme('light');
  const extensions = useMemo(() => [conditionLanguage, EditorView.lineWrapping], []);
  return (
    <div data-testid="condition-text">
      <CodeMirror
        value={value}
        onChange={onChange}
        extensions={extensions}
        theme={scheme === 'dark' ? 'dark' : 'light'}
        readOnly={readOnly}
        minHeight="90px"
        placeholder='host == "shop.example.com" && path.prefix("/static")'
        basicSetup={{ lineNumbers: false, foldGutter: false, highlightActiveLine: false, autocompletion: false }}
        aria-label="Condition text"
        style={{ border: `1px solid ${error ? 'var(--mantine-color-red-6)' : 'var(--mantine-color-default-border)'}`, borderRadius: 4 }}
      />
      {error && (
        <Text c="red" size="xs" mt={4} role="alert">
          Line {error.line}, column {error.column}: {error.message.replace(/^\d+:\d+: /, '')}
        </Text>
      )}
    </div>
  );
}
