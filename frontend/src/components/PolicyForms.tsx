import { ActionIcon, Button, Checkbox, Fieldset, Group, NumberInput, PasswordInput, SegmentedControl, Select, SimpleGrid, Stack, Switch, TagsInput, Text, TextInput, Textarea } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { keptCredentials } from '../lib/advanced';
import type { Action, HeaderMutation, HeaderPolicy, Rewrite } from '../lib/model';
import { authKind, rewritePathKind, sectionErrors, type AuthKind, type RewritePathKind } from '../lib/policies';
import type { RouteFormValues } from './ActionForm';

type Form = UseFormReturnType<RouteFormValues>;

/** The errors of a section that no input of it shows: on lists and maps, or on the section itself. */
function SectionErrors({ form, prefix, bound = [] }: { form: Form; prefix: string; bound?: string[] }) {
  const errs = sectionErrors(form.errors, prefix, bound);
  if (errs.length === 0) return null;
  return (
    <Stack gap={2}>
      {errs.map(([k, m]) => (
        <Text key={k} c="red" size="xs" role="alert">
          {k === prefix ? '' : <span className="mono">{k.slice(prefix.length + 1)}: </span>}
          {m}
        </Text>
      ))}
    </Stack>
  );
}

/**
 * Name/value rows of a map (headers to set, users and passwords). Rows
 * without a name are kept on screen while being typed but not sent.
 */
export function KeyValueRows({
  value,
  onChange,
  label,
  keyLabel,
  valueLabel,
  secret,
  addLabel,
}: {
  value: Record<string, string> | undefined;
  onChange: (v: Record<string, string> | undefined) => void;
  label: string;
  keyLabel: string;
  valueLabel: string;
  secret?: boolean;
  addLabel: string;
}) {
  // A map just switched on ({}) starts with one row to fill in.
  const [rows, setRows] = useState(() => (value && Object.keys(value).length === 0 ? [{ k: '', v: '' }] : Object.entries(value ?? {}).map(([k, v]) => ({ k, v }))));
  const emit = (next: { k: string; v: string }[]) => {
    setRows(next);
    const named = next.filter((r) => r.k.trim() !== '');
    onChange(named.length ? Object.fromEntries(named.map((r) => [r.k.trim(), r.v])) : undefined);
  };
  const Value = secret ? PasswordInput : TextInput;
  return (
    <Stack gap={4}>
      {rows.map((r, i) => (
        <Group key={i} gap="xs" wrap="nowrap">
          <TextInput aria-label={`${label} ${keyLabel} ${i + 1}`} placeholder={keyLabel} className="mono" size="xs" w={200} value={r.k}
            onChange={(e) => emit(rows.map((x, j) => (j === i ? { ...x, k: e.currentTarget.value } : x)))} />
          <Value aria-label={`${label} ${valueLabel} ${i + 1}`} placeholder={valueLabel} className="mono" size="xs" style={{ flex: 1 }} value={r.v}
            onChange={(e) => emit(rows.map((x, j) => (j === i ? { ...x, v: e.currentTarget.value } : x)))} />
          <ActionIcon variant="subtle" color="gray" aria-label={`Remove ${label} ${i + 1}`} onClick={() => emit(rows.filter((_, j) => j !== i))}><IconTrash size={14} /></ActionIcon>
        </Group>
      ))}
      <Button size="compact-xs" variant="subtle" w="fit-content" leftSection={<IconPlus size={12} />} aria-label={`${addLabel} (${label})`} onClick={() => setRows([...rows, { k: '', v: '' }])}>
        {addLabel}
      </Button>
    </Stack>
  );
}

/** Headers set, added, added when absent and removed, on the request or the response. */
function HeaderMutationForm({ value, onChange, label }: { value: HeaderMutation | undefined; onChange: (v: HeaderMutation | undefined) => void; label: string }) {
  const v = value ?? {};
  const patch = (p: Partial<HeaderMutation>) => {
    const next = { ...v, ...p };
    const empty = !next.set && !next.add && !next.addIfAbsent && !(next.remove && next.remove.length);
    onChange(empty ? undefined : next);
  };
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }} spacing="xs" verticalSpacing={4}>
      <div>
        <Text size="xs" fw={500}>Set (replace)</Text>
        <KeyValueRows label={`${label} set`} keyLabel="name" valueLabel="value" addLabel="Header" value={v.set} onChange={(set) => patch({ set })} />
      </div>
      <div>
        <Text size="xs" fw={500}>Add (keep existing values)</Text>
        <KeyValueRows label={`${label} add`} keyLabel="name" valueLabel="value" addLabel="Header" value={v.add} onChange={(add) => patch({ add })} />
      </div>
      <div>
        <Text size="xs" fw={500}>Add when absent</Text>
        <KeyValueRows label={`${label} add if absent`} keyLabel="name" valueLabel="value" addLabel="Header" value={v.addIfAbsent} onChange={(addIfAbsent) => patch({ addIfAbsent })} />
      </div>
      <TagsInput label="Remove" aria-label={`${label} remove`} size="xs" placeholder="header name, Enter" value={v.remove ?? []} onChange={(remove) => patch({ remove: remove.length ? remove : undefined })} />
    </SimpleGrid>
  );
}

/** Request and response header changes, for the route or for one backend. */
export function HeaderPolicyForm({ value, onChange, label }: { value: HeaderPolicy | undefined; onChange: (v: HeaderPolicy | undefined) => void; label: string }) {
  const v = value ?? {};
  const patch = (p: Partial<HeaderPolicy>) => {
    const next = { ...v, ...p };
    onChange(!next.request && !next.response ? undefined : next);
  };
  return (
    <Stack gap="xs">
      <Text size="sm" fw={500}>To the upstream (request)</Text>
      <HeaderMutationForm label={`${label} request`} value={v.request} onChange={(request) => patch({ request })} />
      <Text size="sm" fw={500}>To the client (response)</Text>
      <HeaderMutationForm label={`${label} response`} value={v.response} onChange={(response) => patch({ response })} />
    </Stack>
  );
}

const AUTH_DEFAULTS: Record<Exclude<AuthKind, 'none'>, NonNullable<Action['auth']>> = {
  jwt: { jwt: { issuer: '', jwksUri: '', jwksUpstream: '' } },
  apiKey: { apiKey: { header: 'x-api-key', keys: [] } },
  basic: { basic: { users: {} } },
};

/**
 * Header changes, authentication, source-address access, CORS and fault
 * injection as forms, each switched on when needed; the server's problems
 * show beside the field they name.
 */
export function PolicyForms({ form, upstreams, readOnly }: { form: Form; upstreams: string[]; readOnly?: boolean }) {
  const then = form.values.then;
  const set = <K extends keyof Action>(k: K, v: Action[K]) => form.setFieldValue(`then.${k}`, v as never);
  const auth = authKind(then.auth);
  const kept = keptCredentials(then);
  const jwt = (then.auth as { jwt?: Record<string, unknown> } | undefined)?.jwt;
  const apiKey = (then.auth as { apiKey?: { header?: string; keys?: string[] } } | undefined)?.apiKey;
  const basic = (then.auth as { basic?: { users?: Record<string, string> } } | undefined)?.basic;
  const cors = then.cors as { allowOrigins?: string[]; allowMethods?: string[]; allowHeaders?: string[]; exposeHeaders?: string[]; maxAge?: string; allowCredentials?: boolean } | undefined;
  const access = then.access;
  const fault = then.fault;

  return (
    <Fieldset legend="Headers, auth, access, CORS, faults" disabled={readOnly} data-testid="policy-forms">
      <Stack gap="sm">
        <Checkbox label="Change headers" checked={!!then.headers} onChange={(e) => set('headers', e.currentTarget.checked ? { request: { set: {} } } : undefined)} />
        {then.headers && (
          <Stack ml="lg" gap={4}>
            <HeaderPolicyForm label="Route headers" value={then.headers} onChange={(h) => set('headers', h ?? {})} />
            <SectionErrors form={form} prefix="then.headers" />
          </Stack>
        )}

        <Group gap="sm" align="center">
          <Text size="sm">Authentication</Text>
          <SegmentedControl
            size="xs"
            aria-label="Authentication"
            value={auth}
            onChange={(k) => set('auth', k === 'none' ? undefined : structuredClone(AUTH_DEFAULTS[k as Exclude<AuthKind, 'none'>]))}
            data={[
              { value: 'none', label: 'None' },
              { value: 'jwt', label: 'JWT' },
              { value: 'apiKey', label: 'API key' },
              { value: 'basic', label: 'Basic' },
            ]}
          />
        </Group>
        {auth === 'jwt' && jwt && (
          <Stack ml="lg" gap={4}>
            <SimpleGrid cols={{ base: 1, md: 3 }} spacing="xs">
              <TextInput label="Issuer" required {...form.getInputProps('then.auth.jwt.issuer')} />
              <TagsInput label="Audiences" placeholder="Enter after each" value={(jwt.audiences as string[]) ?? []}
                onChange={(v) => form.setFieldValue('then.auth.jwt.audiences', (v.length ? v : undefined) as never)} error={form.errors['then.auth.jwt.audiences']} />
              <TextInput label="Forward the payload in header" placeholder="x-jwt-payload" {...form.getInputProps('then.auth.jwt.forwardPayloadHeader')} />
              <TextInput label="JWKS URL" placeholder="https://issuer.example.com/.well-known/jwks.json" {...form.getInputProps('then.auth.jwt.jwksUri')} />
              <Select label="JWKS fetched through upstream" data={upstreams} searchable clearable {...form.getInputProps('then.auth.jwt.jwksUpstream')} />
            </SimpleGrid>
            <Textarea label="Or the JWKS itself" description="Key material is stored encrypted; a stored value shows as fp:…" classNames={{ input: 'mono' }} autosize minRows={1} maxRows={6} {...form.getInputProps('then.auth.jwt.jwks')} />
            <SectionErrors form={form} prefix="then.auth" bound={['then.auth.jwt.issuer', 'then.auth.jwt.audiences', 'then.auth.jwt.forwardPayloadHeader', 'then.auth.jwt.jwksUri', 'then.auth.jwt.jwksUpstream', 'then.auth.jwt.jwks']} />
          </Stack>
        )}
        {auth === 'apiKey' && apiKey && (
          <Stack ml="lg" gap={4}>
            <Group align="flex-start">
              <TextInput label="Header" w={200} {...form.getInputProps('then.auth.apiKey.header')} />
              <TagsInput label="Keys" description="Enter after each; stored keys show as fp:…" style={{ flex: 1 }} value={apiKey.keys ?? []}
                onChange={(v) => form.setFieldValue('then.auth.apiKey.keys', v as never)} error={form.errors['then.auth.apiKey.keys']} />
            </Group>
            <SectionErrors form={form} prefix="then.auth" bound={['then.auth.apiKey.header', 'then.auth.apiKey.keys']} />
          </Stack>
        )}
        {auth === 'basic' && basic && (
          <Stack ml="lg" gap={4}>
            <Text size="xs" fw={500}>Users</Text>
            <KeyValueRows label="Basic auth users" keyLabel="user" valueLabel="password" addLabel="User" secret value={basic.users}
              onChange={(users) => form.setFieldValue('then.auth.basic.users', (users ?? {}) as never)} />
            <SectionErrors form={form} prefix="then.auth" />
          </Stack>
        )}
        {kept > 0 && (
          <Text size="xs" c="dimmed" ml="lg" data-testid="kept-credentials">
            {kept === 1 ? '1 stored credential is' : `${kept} stored credentials are`} unchanged (passwords, API keys, JWKS): they show as
            fingerprints (fp:…) and are kept as long as you leave them. Write a new value in place of one to change it.
          </Text>
        )}

        <Checkbox label="Limit by client address" checked={!!access} onChange={(e) => set('access', e.currentTarget.checked ? { allow: [] } : undefined)} />
        {access && (
          <Stack ml="lg" gap={4}>
            <Group align="flex-start" grow>
              <TagsInput label="Allow" description="CIDRs; only these may call" placeholder="10.0.0.0/8, Enter" value={access.allow ?? []}
                onChange={(v) => form.setFieldValue('then.access.allow', (v.length ? v : undefined) as never)} error={form.errors['then.access.allow']} />
              <TagsInput label="Deny" description="CIDRs refused even when allowed" placeholder="10.1.2.3/32, Enter" value={access.deny ?? []}
                onChange={(v) => form.setFieldValue('then.access.deny', (v.length ? v : undefined) as never)} error={form.errors['then.access.deny']} />
            </Group>
            <SectionErrors form={form} prefix="then.access" bound={['then.access.allow', 'then.access.deny']} />
          </Stack>
        )}

        <Checkbox label="CORS" checked={!!cors} onChange={(e) => set('cors', e.currentTarget.checked ? { allowOrigins: [] } : undefined)} />
        {cors && (
          <Stack ml="lg" gap={4}>
            <SimpleGrid cols={{ base: 1, md: 2 }} spacing="xs">
              <TagsInput label="Allowed origins" description='Exact, "*", or "regex:…"' required value={cors.allowOrigins ?? []}
                onChange={(v) => form.setFieldValue('then.cors.allowOrigins', v as never)} error={form.errors['then.cors.allowOrigins']} />
              <TagsInput label="Allowed methods" data={['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']} value={cors.allowMethods ?? []}
                onChange={(v) => form.setFieldValue('then.cors.allowMethods', (v.length ? v : undefined) as never)} error={form.errors['then.cors.allowMethods']} />
              <TagsInput label="Allowed request headers" value={cors.allowHeaders ?? []}
                onChange={(v) => form.setFieldValue('then.cors.allowHeaders', (v.length ? v : undefined) as never)} error={form.errors['then.cors.allowHeaders']} />
              <TagsInput label="Exposed response headers" value={cors.exposeHeaders ?? []}
                onChange={(v) => form.setFieldValue('then.cors.exposeHeaders', (v.length ? v : undefined) as never)} error={form.errors['then.cors.exposeHeaders']} />
            </SimpleGrid>
            <Group align="flex-start">
              <TextInput label="Max age" placeholder="10m" w={120} {...form.getInputProps('then.cors.maxAge')} />
              <Switch mt={30} label="Allow credentials" {...form.getInputProps('then.cors.allowCredentials', { type: 'checkbox' })} />
            </Group>
            <SectionErrors form={form} prefix="then.cors" bound={['then.cors.allowOrigins', 'then.cors.allowMethods', 'then.cors.allowHeaders', 'then.cors.exposeHeaders', 'then.cors.maxAge', 'then.cors.allowCredentials']} />
          </Stack>
        )}

        <Checkbox label="Inject faults" checked={!!fault} onChange={(e) => set('fault', e.currentTarget.checked ? { delay: { duration: '1s', percent: 10 } } : undefined)} />
        {fault && (
          <Stack ml="lg" gap={4}>
            <Group align="flex-end">
              <Checkbox label="Delay" checked={!!fault.delay} onChange={(e) => form.setFieldValue('then.fault.delay', (e.currentTarget.checked ? { duration: '1s', percent: 10 } : undefined) as never)} w={80} mb={8} />
              {fault.delay && (
                <>
                  <TextInput label="Delay by" w={110} {...form.getInputProps('then.fault.delay.duration')} />
                  <NumberInput label="Of requests" suffix=" %" min={0} max={100} w={120} {...form.getInputProps('then.fault.delay.percent')} />
                </>
              )}
            </Group>
            <Group align="flex-end">
              <Checkbox label="Abort" checked={!!fault.abort} onChange={(e) => form.setFieldValue('then.fault.abort', (e.currentTarget.checked ? { status: 503, percent: 10 } : undefined) as never)} w={80} mb={8} />
              {fault.abort && (
                <>
                  <NumberInput label="With status" min={200} max={599} w={110} {...form.getInputProps('then.fault.abort.status')} />
                  <NumberInput label="Of requests" suffix=" %" min={0} max={100} w={120} {...form.getInputProps('then.fault.abort.percent')} />
                </>
              )}
            </Group>
            <SectionErrors form={form} prefix="then.fault" bound={['then.fault.delay.duration', 'then.fault.delay.percent', 'then.fault.abort.status', 'then.fault.abort.percent']} />
          </Stack>
        )}
      </Stack>
    </Fieldset>
  );
}

/** How the path is rewritten: not at all, its matched prefix, by a regex, or by a template. */
export function RewriteForm({ form }: { form: Form }) {
  const rw = form.values.then.rewrite ?? {};
  const kind = rewritePathKind(rw);
  const setKind = (k: RewritePathKind) => {
    const next: Rewrite = { ...rw, pathPrefix: undefined, pathRegex: undefined, pathTemplate: undefined };
    if (k === 'prefix') next.pathPrefix = '/';
    if (k === 'regex') next.pathRegex = { pattern: '', substitution: '' };
    if (k === 'template') next.pathTemplate = '';
    form.setFieldValue('then.rewrite', next);
  };
  const hostKind = rw.autoHost ? 'auto' : rw.hostFromHeader !== undefined ? 'header' : rw.host !== undefined ? 'fixed' : 'keep';
  const setHostKind = (k: string) => {
    form.setFieldValue('then.rewrite', { ...rw, host: k === 'fixed' ? '' : undefined, hostFromHeader: k === 'header' ? '' : undefined, autoHost: k === 'auto' ? true : undefined });
  };
  return (
    <Stack ml="lg" gap="xs">
      <Group gap="sm">
        <Text size="sm" w={40}>Path</Text>
        <SegmentedControl size="xs" aria-label="Path rewrite" value={kind} onChange={(k) => setKind(k as RewritePathKind)}
          data={[{ value: 'keep', label: 'Keep' }, { value: 'prefix', label: 'Replace the matched prefix' }, { value: 'regex', label: 'Regex' }, { value: 'template', label: 'Template' }]} />
      </Group>
      {kind === 'prefix' && <TextInput label="New prefix" w={240} classNames={{ input: 'mono' }} {...form.getInputProps('then.rewrite.pathPrefix')} />}
      {kind === 'regex' && (
        <Group align="flex-start" grow>
          <TextInput label="Pattern (RE2)" placeholder="^/api/v1/(.*)$" classNames={{ input: 'mono' }} {...form.getInputProps('then.rewrite.pathRegex.pattern')} />
          <TextInput label="Substitution" placeholder="/v1/\1" classNames={{ input: 'mono' }} {...form.getInputProps('then.rewrite.pathRegex.substitution')} />
        </Group>
      )}
      {kind === 'template' && (
        <TextInput label="Path template" description="Variables of the when's path.template(…), e.g. /users/{id}" classNames={{ input: 'mono' }} w={360} {...form.getInputProps('then.rewrite.pathTemplate')} />
      )}
      <Group gap="sm">
        <Text size="sm" w={40}>Host</Text>
        <SegmentedControl size="xs" aria-label="Host rewrite" value={hostKind} onChange={setHostKind}
          data={[{ value: 'keep', label: 'Keep' }, { value: 'fixed', label: 'Set' }, { value: 'header', label: 'From a header' }, { value: 'auto', label: "Upstream's address" }]} />
      </Group>
      {hostKind === 'fixed' && <TextInput label="Host" w={260} {...form.getInputProps('then.rewrite.host')} />}
      {hostKind === 'header' && <TextInput label="Header" placeholder="x-forwarded-host" w={260} {...form.getInputProps('then.rewrite.hostFromHeader')} />}
      <SectionErrors form={form} prefix="then.rewrite" bound={['then.rewrite.pathPrefix', 'then.rewrite.pathRegex.pattern', 'then.rewrite.pathRegex.substitution', 'then.rewrite.pathTemplate', 'then.rewrite.host', 'then.rewrite.hostFromHeader']} />
    </Stack>
  );
}
