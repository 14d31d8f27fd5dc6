import { ActionIcon, Button, Checkbox, Fieldset, Group, MultiSelect, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Switch, TagsInput, Text, TextInput, Textarea } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import type { Action, Route } from '../lib/model';
import { weightShares } from '../lib/weights';
import { sectionErrors } from '../lib/policies';
import { HeaderPolicyForm, RewriteForm } from './PolicyForms';

/** The form's values: a route without its condition, which the builder edits. */
export type RouteFormValues = Omit<Route, 'when' | 'whenText'>;
type Form = UseFormReturnType<RouteFormValues>;

export type ActionKind = 'forward' | 'redirect' | 'respond';

export function actionKind(a: Action): ActionKind {
  if (a.redirect) return 'redirect';
  if (a.respond) return 'respond';
  return 'forward';
}

/**
 * Form paths that have an input on screen. Problems from the server about
 * deeper paths are shown on the closest of these (see problemsToFormErrors).
 */
export function isRouteFormField(path: string): boolean {
  return ROUTE_FIELDS.some((re) => re.test(path));
}

const ROUTE_FIELDS = [
  /^(name|gateway|listeners|priority|description|disabled)$/,
  /^then$/,
  /^then\.forward$/,
  /^then\.forward\.\d+\.(upstream|weight)$/,
  /^then\.redirect\.(scheme|host|port|path|pathPrefix|status)$/,
  /^then\.respond\.(status|body)$/,
  /^then\.(timeout|idleTimeout|websocket)$/,
  /^then\.retries$/,
  /^then\.retries\.(attempts|on|perTryTimeout|backoffBase|backoffMax|statusCodes)$/,
  /^then\.rateLimit$/,
  /^then\.rateLimit\.(requests|per|burst|status)$/,
  /^then\.mirror\.(upstream|percent)$/,
  // The policy forms show every problem under their sections, on the
  // input it names or beneath the section (maps and lists, whose entries
  // have no input of their own: "then.auth.basic.users[bob]").
  /^then\.(rewrite|headers|auth|access|cors|fault)(\.|\[|$)/,
  /^then\.forward\.\d+\.headers(\.|\[|$)/,
];

const RETRY_ON = ['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes'];

/** What a matched rule does: forward (weighted upstreams), redirect, or answer directly. */
export function ActionForm({ form, upstreams, readOnly }: { form: Form; upstreams: string[]; readOnly?: boolean }) {
  const then = form.values.then;
  const kind = actionKind(then);
  const setKind = (k: ActionKind) => {
    const next: Action = { ...then, forward: undefined, redirect: undefined, respond: undefined };
    if (k === 'forward') next.forward = [{ upstream: upstreams[0] ?? '', weight: 100 }];
    if (k === 'redirect') next.redirect = { scheme: 'https', status: 301 };
    if (k === 'respond') next.respond = { status: 200, body: '' };
    form.setFieldValue('then', next);
  };
  const forward = then.forward ?? [];
  // A lone backend takes everything whatever its weight.
  const shares = weightShares(forward.map((b) => b.weight));
  return (
    <Fieldset legend="Then" disabled={readOnly}>
      <Stack gap="sm">
        <SegmentedControl
          value={kind}
          onChange={(v) => setKind(v as ActionKind)}
          data={[
            { value: 'forward', label: 'Forward' },
            { value: 'redirect', label: 'Redirect' },
            { value: 'respond', label: 'Respond (mock)' },
          ]}
          w="fit-content"
          aria-label="Action"
        />
        {form.errors.then && <Text c="red" size="sm" role="alert">{form.errors.then}</Text>}
        {kind === 'forward' && (
          <Stack gap={6}>
            {form.errors['then.forward'] && <Text c="red" size="xs" role="alert">{form.errors['then.forward']}</Text>}
            {forward.map((_, i) => (
              <Group key={i} align="flex-start" gap="xs" wrap="wrap">
                <Select
                  label={i === 0 ? 'Upstream' : undefined}
                  aria-label={`Upstream ${i + 1}`}
                  data={upstreams}
                  searchable
                  w={240}
                  {...form.getInputProps(`then.forward.${i}.upstream`)}
                />
                <NumberInput label={i === 0 ? 'Weight' : undefined} aria-label={`Weight ${i + 1}`} w={170} {...form.getInputProps(`then.forward.${i}.weight`)} />
                {forward.length > 1 && (
                  <Text mt={i === 0 ? 32 : 6} size="sm" c="dimmed" w={44} ta="right" data-testid={`weight-share-${i + 1}`} title="Share of the traffic: this weight over the sum of the weights">
                    {shares[i]}%
                  </Text>
                )}
                <Checkbox
                  mt={i === 0 ? 32 : 8}
                  label="Headers"
                  aria-label={`Headers of upstream ${i + 1}`}
                  checked={!!forward[i].headers}
                  onChange={(e) => form.setFieldValue(`then.forward.${i}.headers`, (e.currentTarget.checked ? { request: { set: {} } } : undefined) as never)}
                />
                {forward.length > 1 && (
                  <ActionIcon mt={i === 0 ? 28 : 4} variant="subtle" color="gray" aria-label={`Remove upstream ${i + 1}`} onClick={() => form.removeListItem('then.forward', i)}>
                    <IconTrash size={14} />
                  </ActionIcon>
                )}
                {forward[i].headers && (
                  <Stack w="100%" ml="lg" gap={4} data-testid={`backend-headers-${i + 1}`}>
                    <Text size="xs" c="dimmed">Header changes for requests sent to {forward[i].upstream || 'this upstream'} only, after the route's own.</Text>
                    <HeaderPolicyForm label={`Upstream ${i + 1} headers`} value={forward[i].headers} onChange={(h) => form.setFieldValue(`then.forward.${i}.headers`, (h ?? {}) as never)} />
                    {sectionErrors(form.errors, `then.forward.${i}.headers`).map(([k, m]) => (
                      <Text key={k} c="red" size="xs" role="alert">{k.slice(`then.forward.${i}.headers`.length + 1)}: {m}</Text>
                    ))}
                  </Stack>
                )}
              </Group>
            ))}
            <Button size="compact-sm" variant="light" w="fit-content" leftSection={<IconPlus size={12} />} onClick={() => form.insertListItem('then.forward', { upstream: '', weight: 0 })}>
              Split traffic
            </Button>
          </Stack>
        )}
        {kind === 'redirect' && (
          <SimpleGrid cols={3}>
            <Select label="Scheme" data={['http', 'https']} clearable {...form.getInputProps('then.redirect.scheme')} />
            <TextInput label="Host" {...form.getInputProps('then.redirect.host')} />
            <NumberInput label="Port" {...form.getInputProps('then.redirect.port')} />
            <TextInput label="Path" {...form.getInputProps('then.redirect.path')} />
            <TextInput label="Path prefix" {...form.getInputProps('then.redirect.pathPrefix')} />
            <Select label="Status" data={['301', '302', '303', '307', '308']} value={String(then.redirect?.status ?? 301)} onChange={(v) => form.setFieldValue('then.redirect.status', Number(v))} error={form.errors['then.redirect.status']} />
          </SimpleGrid>
        )}
        {kind === 'respond' && (
          <Stack gap="xs">
            <NumberInput label="Status" w={120} {...form.getInputProps('then.respond.status')} />
            <Textarea label="Body" autosize minRows={2} classNames={{ input: 'mono' }} {...form.getInputProps('then.respond.body')} />
          </Stack>
        )}
      </Stack>
    </Fieldset>
  );
}

/** Timeouts, retries, rate limit, rewrite, mirror and websocket, each switched on when needed. */
export function PoliciesForm({ form, upstreams, readOnly }: { form: Form; upstreams: string[]; readOnly?: boolean }) {
  const then = form.values.then;
  const toggle = (key: keyof Action, on: boolean, initial: Action[keyof Action]) => form.setFieldValue(`then.${key}`, on ? initial : undefined);
  return (
    <Fieldset legend="Policies" disabled={readOnly}>
      <Stack gap="sm">
        <Group align="flex-start">
          <TextInput label="Timeout" placeholder="15s" w={120} {...form.getInputProps('then.timeout')} />
          <TextInput label="Idle timeout" placeholder="1h" w={120} {...form.getInputProps('then.idleTimeout')} />
          <Switch mt={30} label="WebSocket upgrades" {...form.getInputProps('then.websocket', { type: 'checkbox' })} />
        </Group>

        <Checkbox label="Retries" checked={!!then.retries} onChange={(e) => toggle('retries', e.currentTarget.checked, { attempts: 2, on: ['5xx', 'reset', 'connect-failure'] })} />
        {form.errors['then.retries'] && <Text c="red" size="xs" role="alert">{form.errors['then.retries']}</Text>}
        {then.retries && (
          <Group align="flex-start" ml="lg">
            <NumberInput label="Attempts" w={100} min={0} {...form.getInputProps('then.retries.attempts')} />
            <MultiSelect label="Retry on" data={RETRY_ON} w={340} {...form.getInputProps('then.retries.on')} />
            <TextInput label="Per try timeout" placeholder="1s" w={130} {...form.getInputProps('then.retries.perTryTimeout')} />
            <TextInput label="Backoff base" description="Envoy: 25ms" placeholder="25ms" w={120} {...form.getInputProps('then.retries.backoffBase')} />
            <TextInput label="Backoff max" description="Envoy: 10 × base" placeholder="250ms" w={120} {...form.getInputProps('then.retries.backoffMax')} />
            {then.retries.on?.includes('retriable-status-codes') && (
              <TagsInput
                label="Status codes"
                w={200}
                value={(then.retries.statusCodes ?? []).map(String)}
                onChange={(v) => form.setFieldValue('then.retries.statusCodes', v.map((x) => (/^\d+$/.test(x) ? Number(x) : x)) as never)}
                error={form.errors['then.retries.statusCodes']}
              />
            )}
          </Group>
        )}

        <Checkbox label="Rate limit" checked={!!then.rateLimit} onChange={(e) => toggle('rateLimit', e.currentTarget.checked, { requests: 100, per: '1s' })} />
        {form.errors['then.rateLimit'] && <Text c="red" size="xs" role="alert">{form.errors['then.rateLimit']}</Text>}
        {then.rateLimit && (
          <Group align="flex-start" ml="lg">
            <NumberInput label="Requests" w={120} min={1} {...form.getInputProps('then.rateLimit.requests')} />
            <TextInput label="Per" placeholder="1s" w={100} {...form.getInputProps('then.rateLimit.per')} />
            <NumberInput label="Burst" description="Extra requests a quiet client may send at once" w={200} min={0} {...form.getInputProps('then.rateLimit.burst')} />
            <NumberInput label="Status when limited" placeholder="429" w={150} min={400} max={599} {...form.getInputProps('then.rateLimit.status')} />
          </Group>
        )}

        <Checkbox label="Rewrite" checked={!!then.rewrite} onChange={(e) => toggle('rewrite', e.currentTarget.checked, { pathPrefix: '/' })} />
        {then.rewrite && <RewriteForm form={form} />}

        <Checkbox label="Mirror traffic" checked={!!then.mirror} onChange={(e) => toggle('mirror', e.currentTarget.checked, { upstream: '', percent: 5 })} />
        {then.mirror && (
          <Group align="flex-start" ml="lg">
            <Select label="Upstream" data={upstreams} w={220} searchable {...form.getInputProps('then.mirror.upstream')} />
            <NumberInput label="Percent" w={100} min={0} max={100} {...form.getInputProps('then.mirror.percent')} />
          </Group>
        )}
      </Stack>
    </Fieldset>
  );
}

/**
 * The action as the API wants it: empty inputs dropped (an empty timeout box
 * means "no timeout", not ""), numbers as numbers.
 */
export function cleanAction(a: Action): Action {
  return prune(a) as Action;
}

// Maps whose entries are values the user wrote, where "" means something
// ("set this header to empty") or is a problem the server must name ("no
// password"): their entries are sent as they are.
const VERBATIM_MAPS = new Set(['set', 'add', 'addIfAbsent', 'users']);

function prune(v: unknown, verbatim = false): unknown {
  if (Array.isArray(v)) return v.map((x) => prune(x));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (verbatim && typeof x === 'string') {
        out[k] = x;
        continue;
      }
      const p = prune(x, VERBATIM_MAPS.has(k));
      if (p === undefined || p === '' || p === null) continue;
      out[k] = p;
    }
    return out;
  }
  return v;
}
