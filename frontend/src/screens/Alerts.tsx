import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  MultiSelect,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Table,
  Tabs,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Timeline,
  Title,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconCheck, IconPlus, IconSend } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { useCanEdit, useMe } from '../auth';
import { modalsConfirm } from '../components/confirm';
import { QueryState } from '../components/Loading';
import { ApiError, del, friendlyMessage, get, post, put, seg } from '../lib/api';
import { plural, timeAgo } from '../lib/format';
import type { components } from '../lib/openapi.gen';
import { problemsToFormErrors } from '../lib/problems';
import { useGateways, useRoutes } from '../lib/queries';

type Schemas = components['schemas'];
type AlertRule = Schemas['AlertRule'];
type AlertRuleInput = Schemas['AlertRuleInput'];
type Notifier = Schemas['Notifier'];
type NotifierInput = Schemas['NotifierInput'];
type AlertState = Schemas['AlertState'];
type Incident = Schemas['AlertIncident'];
type Delivery = Schemas['AlertDelivery'];

const alertKeys = {
  rules: ['alerts', 'rules'] as const,
  notifiers: ['alerts', 'notifiers'] as const,
  states: ['alerts', 'states'] as const,
  history: (rule: string) => ['alerts', 'history', rule] as const,
};

// The evaluator measures every 15 seconds; the screen asks about as often.
const STATE_REFRESH_MS = 5000;

const STATE_COLOR: Record<string, string> = { firing: 'red', pending: 'yellow', ok: 'green', nodata: 'gray', disabled: 'gray', unknown: 'gray' };

const METRICS = [
  { value: 'error-rate', label: 'Error rate (%)' },
  { value: 'requests', label: 'Request count' },
  { value: 'latency', label: 'Latency (ms)' },
];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];
const PERCENTILES = ['p50', 'p90', 'p99'];
const OPS = ['>', '>=', '<', '<='];
const WINDOWS = ['1m', '5m', '10m', '15m', '30m', '1h'];

/** What a rule measures, with its unit: "5xx rate", "p99 latency". */
function what(r: Pick<AlertRule, 'metric' | 'statusClass' | 'percentile'>): string {
  if (r.metric === 'error-rate') return `${r.statusClass || '5xx'} rate`;
  if (r.metric === 'latency') return `${r.percentile || 'p99'} latency`;
  return r.statusClass ? `${r.statusClass} requests` : 'requests';
}

function unit(metric: string): string {
  return metric === 'error-rate' ? '%' : metric === 'latency' ? 'ms' : '';
}

/** The rule as a sentence: "5xx rate > 5% over 5m". */
function condition(r: AlertRule): string {
  const f = r.for && r.for !== '0s' ? ` for ${shortDuration(r.for)}` : '';
  return `${what(r)} ${r.op} ${r.threshold}${unit(r.metric)} over ${shortDuration(r.window)}${f}`;
}

/** "5m0s" reads "5m", "1h0m0s" reads "1h". */
function shortDuration(d: string): string {
  return d.replace(/(\d+[hm])0s$/, '$1').replace(/(\d+h)0m$/, '$1');
}

function formatValue(v: number | undefined, metric: string): string {
  if (v === undefined || v === null) return '–';
  return `${Math.round(v * 100) / 100}${unit(metric)}`;
}

/** Alert rules with their state, notifiers, and the incidents so far. */
export default function Alerts() {
  const [params, setParams] = useSearchParams();
  const ruleParam = params.get('rule') ?? '';
  const [tab, setTab] = useState<string | null>(ruleParam ? 'history' : 'rules');
  return (
    <Stack maw={1200}>
      <Title order={3}>Alerts</Title>
      <Text size="sm" c="dimmed">
        Rules watch a gateway's (or one rule's) traffic as its proxies report it, every 15 seconds, and notify by webhook or email when they fire and resolve.
      </Text>
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="rules">Rules</Tabs.Tab>
          <Tabs.Tab value="notifiers">Notifiers</Tabs.Tab>
          <Tabs.Tab value="history">History</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="rules" pt="md"><Rules /></Tabs.Panel>
        <Tabs.Panel value="notifiers" pt="md"><Notifiers /></Tabs.Panel>
        <Tabs.Panel value="history" pt="md">
          <History rule={ruleParam} onRule={(r) => setParams(r ? { rule: r } : {})} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function useAlertRules() {
  return useQuery({ queryKey: alertKeys.rules, queryFn: () => get<{ items: AlertRule[] }>('/alerts/rules') });
}

function useNotifiers() {
  return useQuery({ queryKey: alertKeys.notifiers, queryFn: () => get<{ items: Notifier[] }>('/alerts/notifiers') });
}

function StateBadge({ state }: { state: AlertState | undefined }) {
  const s = state?.state ?? 'unknown';
  return (
    <Badge color={STATE_COLOR[s]} variant={s === 'firing' ? 'filled' : 'light'} title={state?.error} data-state={s}>
      {s === 'nodata' ? 'no data' : s}
    </Badge>
  );
}

function Rules() {
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const rules = useAlertRules();
  const states = useQuery({ queryKey: alertKeys.states, queryFn: () => get<{ items: AlertState[] }>('/alerts/states'), refetchInterval: STATE_REFRESH_MS });
  // undefined: no form; null: a new rule; a rule: editing it.
  const [editing, setEditing] = useState<AlertRule | null | undefined>(undefined);
  const remove = useMutation({
    mutationFn: (r: AlertRule) => del(`/alerts/rules/${seg(r.name)}?version=${r.version}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['alerts'] }),
    onError: (e) => notifications.show({ color: 'red', title: 'Not deleted', message: friendlyMessage(e) }),
  });
  const byRule = new Map((states.data?.items ?? []).map((s) => [s.rule, s]));
  return (
    <Stack>
      {canEdit && editing === undefined && (
        <Button w="fit-content" leftSection={<IconPlus size={14} />} onClick={() => setEditing(null)}>New alert rule</Button>
      )}
      {editing !== undefined && <RuleForm rule={editing} onDone={() => setEditing(undefined)} />}
      <QueryState query={rules}>
        {(data) =>
          data.items.length === 0 ? (
            <Alert>No alert rules yet. A rule watches a gateway's error rate, request count or latency over a window.</Alert>
          ) : (
            <Table fz="sm" verticalSpacing="xs" data-testid="alert-rules">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>State</Table.Th><Table.Th>Rule</Table.Th><Table.Th>Watches</Table.Th><Table.Th>Condition</Table.Th>
                  <Table.Th>Now</Table.Th><Table.Th>Notifies</Table.Th><Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((r) => {
                  const st = byRule.get(r.name);
                  return (
                    <Table.Tr key={r.name} data-alert-rule={r.name}>
                      <Table.Td><StateBadge state={r.disabled ? { rule: r.name, state: 'disabled', requests: 0 } : st} /></Table.Td>
                      <Table.Td>
                        <Text fw={600} size="sm">{r.name}</Text>
                        {r.description && <Text size="xs" c="dimmed" lineClamp={1}>{r.description}</Text>}
                      </Table.Td>
                      <Table.Td>{r.gateway}{r.rule ? <Text span c="dimmed"> / {r.rule}</Text> : ''}</Table.Td>
                      <Table.Td className="mono">{condition(r)}</Table.Td>
                      <Table.Td>
                        {formatValue(st?.value, r.metric)}
                        {st?.since && <Text size="xs" c="dimmed">{st.state} {timeAgo(st.since)}</Text>}
                      </Table.Td>
                      <Table.Td>{(r.notifiers ?? []).join(', ') || <Text span c="dimmed">nobody</Text>}</Table.Td>
                      <Table.Td>
                        {canEdit && (
                          <Group gap={4} wrap="nowrap">
                            <Button size="xs" variant="light" onClick={() => setEditing(r)} aria-label={`Edit alert rule ${r.name}`}>Edit</Button>
                            <Button size="xs" variant="subtle" color="red" aria-label={`Delete alert rule ${r.name}`}
                              onClick={() => modalsConfirm('Delete alert rule', `Delete ${r.name} and its history?`, () => remove.mutate(r), 'Delete')}>
                              Delete
                            </Button>
                          </Group>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Stack>
  );
}

/** The form's values: the rule's fields, with the enumerations as plain text while they are edited. */
type RuleValues = Omit<AlertRuleInput, 'metric' | 'statusClass' | 'percentile' | 'op'> & { metric: string; statusClass: string; percentile: string; op: string };

const RULE_FIELDS = ['name', 'description', 'gateway', 'rule', 'metric', 'statusClass', 'percentile', 'op', 'threshold', 'window', 'for', 'minRequests', 'notifiers', 'disabled'];

/** Creates or edits an alert rule; the server's problems show beside their fields. */
function RuleForm({ rule, onDone }: { rule: AlertRule | null; onDone: () => void }) {
  const qc = useQueryClient();
  const gateways = useGateways();
  const routes = useRoutes();
  const notifiers = useNotifiers();
  const form = useForm<RuleValues>({
    initialValues: rule
      ? { ...rule, statusClass: rule.statusClass ?? '', percentile: rule.percentile ?? 'p99', window: shortDuration(rule.window), for: rule.for ? shortDuration(rule.for) : '' }
      : { name: '', description: '', gateway: '', rule: '', metric: 'error-rate', statusClass: '5xx', percentile: 'p99', op: '>', threshold: 5, window: '5m', for: '', minRequests: 0, notifiers: [], disabled: false },
  });
  const v = form.values;
  const save = useMutation({
    mutationFn: (input: RuleValues) => {
      // Only the rule's own fields: the change stamps are the server's. The
      // server names an unknown metric or comparison beside its field.
      const body = {
        name: input.name, description: input.description, gateway: input.gateway, rule: input.rule, metric: input.metric,
        statusClass: input.metric === 'latency' || !input.statusClass ? undefined : input.statusClass,
        percentile: input.metric === 'latency' ? input.percentile : undefined,
        op: input.op, threshold: input.threshold, window: input.window, for: input.for || '0s', minRequests: input.minRequests,
        notifiers: input.notifiers, disabled: input.disabled, version: input.version,
      } as AlertRuleInput;
      return rule ? put<AlertRule>(`/alerts/rules/${seg(rule.name)}`, body) : post<AlertRule>('/alerts/rules', body);
    },
    onSuccess: (r) => {
      notifications.show({ color: 'green', title: 'Saved', message: `Alert rule ${r.name} saved.` });
      qc.invalidateQueries({ queryKey: ['alerts'] });
      onDone();
    },
    onError: (e) => {
      const { fieldErrors, other } = problemsToFormErrors(e instanceof ApiError ? e.errors : [], (p) => RULE_FIELDS.includes(p));
      form.setErrors(fieldErrors);
      if (other.length || !Object.keys(fieldErrors).length) {
        notifications.show({ color: 'red', title: 'Not saved', message: other.map((o) => o.message).join('; ') || friendlyMessage(e) });
      }
    },
  });
  const gatewayRules = (routes.data?.items ?? []).filter((r) => r.gateway === v.gateway).map((r) => r.name);
  return (
    <Card withBorder data-testid="alert-rule-form">
      <form onSubmit={form.onSubmit((values) => save.mutate(values))}>
        <Stack gap="sm">
          <Text fw={600}>{rule ? `Edit ${rule.name}` : 'New alert rule'}</Text>
          <Group align="flex-start" grow>
            <TextInput label="Name" required disabled={!!rule} data-autofocus autoFocus {...form.getInputProps('name')} />
            <Select label="Gateway" required searchable data={(gateways.data?.items ?? []).map((g) => g.name)} {...form.getInputProps('gateway')}
              onChange={(g) => { form.setFieldValue('gateway', g ?? ''); form.setFieldValue('rule', ''); }} />
            <Select label="Rule" placeholder="the whole gateway" clearable searchable data={gatewayRules} {...form.getInputProps('rule')}
              value={v.rule || null} onChange={(r) => form.setFieldValue('rule', r ?? '')} />
          </Group>
          <Group align="flex-start" grow>
            <Select label="Metric" data={METRICS} allowDeselect={false} {...form.getInputProps('metric')}
              onChange={(m) => {
                // An error rate is the share of a class (5xx unless chosen); a count is of every request unless narrowed.
                form.setFieldValue('metric', m ?? 'error-rate');
                form.setFieldValue('statusClass', m === 'error-rate' ? '5xx' : '');
              }} />
            {v.metric === 'latency' ? (
              <Select label="Percentile" data={PERCENTILES} allowDeselect={false} {...form.getInputProps('percentile')} />
            ) : (
              <Select label={v.metric === 'error-rate' ? 'Share of' : 'Only status'} data={CLASSES} clearable={v.metric === 'requests'}
                placeholder="every status" {...form.getInputProps('statusClass')} value={v.statusClass || null}
                onChange={(c) => form.setFieldValue('statusClass', c ?? '')} />
            )}
            <Select label="Comparison" data={OPS} allowDeselect={false} {...form.getInputProps('op')} />
            <NumberInput label={`Threshold${unit(v.metric) ? ` (${unit(v.metric)})` : ''}`} min={0} max={v.metric === 'error-rate' ? 100 : undefined}
              decimalScale={3} {...form.getInputProps('threshold')} />
          </Group>
          <Group align="flex-start" grow>
            <Select label="Window" description="traffic measured each time" data={WINDOWS} searchable {...form.getInputProps('window')} />
            <TextInput label="For" description="a breach must last (e.g. 1m); empty fires at once" placeholder="0s" {...form.getInputProps('for')} />
            <NumberInput label="Minimum requests" description="fewer in the window reads as no data" min={0} {...form.getInputProps('minRequests')} />
          </Group>
          <MultiSelect label="Notify" placeholder="pick notifiers" data={(notifiers.data?.items ?? []).map((n) => n.name)} searchable
            {...form.getInputProps('notifiers')} />
          <Textarea label="Description" description="sent with the notification" autosize minRows={1} {...form.getInputProps('description')} />
          <Switch label="Disabled" {...form.getInputProps('disabled', { type: 'checkbox' })} />
          <Group>
            <Button type="submit" loading={save.isPending}>Save rule</Button>
            <Button variant="default" onClick={onDone}>Cancel</Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

/** Where a notifier sends, in one line: a webhook's origin only, since its path and query carry the receiver's token. */
function destination(n: Notifier): string {
  if (n.webhook) return n.webhook.origin;
  if (n.email) return `${n.email.to.join(', ')} via ${n.email.smarthost}`;
  return '';
}

function Notifiers() {
  const me = useMe();
  const admin = me.role === 'admin';
  const qc = useQueryClient();
  const notifiers = useNotifiers();
  const [editing, setEditing] = useState<Notifier | null | undefined>(undefined);
  const test = useMutation({
    mutationFn: (n: Notifier) => post<Delivery>(`/alerts/notifiers/${seg(n.name)}/test`),
    onSuccess: (d) =>
      notifications.show(d.ok
        ? { color: 'green', title: 'Test sent', message: `${d.notifier} accepted the test notification.` }
        : { color: 'red', title: 'Test failed', message: `${d.notifier}: ${d.error}` }),
    onError: (e) => notifications.show({ color: 'red', title: 'Test failed', message: friendlyMessage(e) }),
  });
  const remove = useMutation({
    mutationFn: (n: Notifier) => del(`/alerts/notifiers/${seg(n.name)}?version=${n.version}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: alertKeys.notifiers }),
    onError: (e) => notifications.show({ color: 'red', title: 'Not deleted', message: friendlyMessage(e) }),
  });
  return (
    <Stack>
      {!admin && <Text size="sm" c="dimmed">Notifiers hold credentials and make the server connect out: admins edit them.</Text>}
      {admin && editing === undefined && (
        <Button w="fit-content" leftSection={<IconPlus size={14} />} onClick={() => setEditing(null)}>New notifier</Button>
      )}
      {editing !== undefined && <NotifierForm notifier={editing} onDone={() => setEditing(undefined)} />}
      <QueryState query={notifiers}>
        {(data) =>
          data.items.length === 0 ? (
            <Alert>No notifiers yet. A webhook receives Alertmanager's JSON body; email goes through your SMTP server.</Alert>
          ) : (
            <Table fz="sm" data-testid="alert-notifiers">
              <Table.Thead>
                <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Type</Table.Th><Table.Th>Sends to</Table.Th><Table.Th>Credentials</Table.Th><Table.Th /></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((n) => {
                  const credential = n.webhook ? n.webhook.authorizationSet : n.email?.passwordSet;
                  return (
                    <Table.Tr key={n.name} data-notifier={n.name}>
                      <Table.Td><Text fw={600} size="sm">{n.name}</Text>{n.description && <Text size="xs" c="dimmed">{n.description}</Text>}</Table.Td>
                      <Table.Td><Badge variant="light">{n.type}</Badge>{n.skipResolved && <Badge variant="outline" ml={4}>firing only</Badge>}</Table.Td>
                      <Table.Td className="mono">{destination(n)}</Table.Td>
                      <Table.Td>{credential ? <Badge color="teal" variant="light">saved</Badge> : <Text span c="dimmed">none</Text>}</Table.Td>
                      <Table.Td>
                        {admin && (
                          <Group gap={4} wrap="nowrap">
                            <Button size="xs" variant="light" leftSection={<IconSend size={12} />} loading={test.isPending && test.variables?.name === n.name}
                              onClick={() => test.mutate(n)} aria-label={`Send a test notification through ${n.name}`}>Test</Button>
                            <Button size="xs" variant="light" onClick={() => setEditing(n)} aria-label={`Edit notifier ${n.name}`}>Edit</Button>
                            <Button size="xs" variant="subtle" color="red" aria-label={`Delete notifier ${n.name}`}
                              onClick={() => modalsConfirm('Delete notifier', `Delete ${n.name}?`, () => remove.mutate(n), 'Delete')}>Delete</Button>
                          </Group>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Stack>
  );
}

const NOTIFIER_FIELDS = ['name', 'description', 'type', 'skipResolved', 'webhook', 'webhook.url', 'webhook.authorization', 'email',
  'email.smarthost', 'email.from', 'email.to', 'email.username', 'email.password', 'email.requireTls'];

interface NotifierValues {
  name: string;
  description: string;
  type: 'webhook' | 'email';
  skipResolved: boolean;
  webhook: { url: string; authorization: string };
  email: { smarthost: string; from: string; to: string[]; username: string; password: string; requireTls: boolean };
}

/** Creates or edits a notifier. Credentials are write-only: empty keeps the saved one. */
function NotifierForm({ notifier, onDone }: { notifier: Notifier | null; onDone: () => void }) {
  const qc = useQueryClient();
  const form = useForm<NotifierValues>({
    initialValues: {
      name: notifier?.name ?? '',
      description: notifier?.description ?? '',
      type: (notifier?.type as 'webhook' | 'email') ?? 'webhook',
      skipResolved: notifier?.skipResolved ?? false,
      webhook: { url: '', authorization: '' },
      email: {
        smarthost: notifier?.email?.smarthost ?? '', from: notifier?.email?.from ?? '', to: notifier?.email?.to ?? [],
        username: notifier?.email?.username ?? '', password: '', requireTls: notifier?.email?.requireTls ?? false,
      },
    },
  });
  const v = form.values;
  const [clear, setClear] = useState(false);
  const save = useMutation({
    mutationFn: (x: NotifierValues) => {
      // Leaving a credential out keeps the saved one; "" (Remove) deletes it.
      // The URL is a credential too, shown as its fingerprint: sending that
      // back keeps the saved URL.
      const secret = (s: string) => (clear ? '' : s || undefined);
      const url = x.webhook.url || notifier?.webhook?.url || '';
      const body: NotifierInput = {
        name: x.name, description: x.description, type: x.type, skipResolved: x.skipResolved, version: notifier?.version,
        ...(x.type === 'webhook'
          ? { webhook: { url, authorization: secret(x.webhook.authorization) } }
          : { email: { ...x.email, password: secret(x.email.password) } }),
      };
      return notifier ? put<Notifier>(`/alerts/notifiers/${seg(notifier.name)}`, body) : post<Notifier>('/alerts/notifiers', body);
    },
    onSuccess: (n) => {
      notifications.show({ color: 'green', title: 'Saved', message: `Notifier ${n.name} saved.` });
      qc.invalidateQueries({ queryKey: alertKeys.notifiers });
      onDone();
    },
    onError: (e) => {
      const { fieldErrors, other } = problemsToFormErrors(e instanceof ApiError ? e.errors : [], (p) => NOTIFIER_FIELDS.includes(p));
      form.setErrors(fieldErrors);
      if (other.length || !Object.keys(fieldErrors).length) {
        notifications.show({ color: 'red', title: 'Not saved', message: other.map((o) => o.message).join('; ') || friendlyMessage(e) });
      }
    },
  });
  const saved = notifier?.webhook?.authorizationSet || notifier?.email?.passwordSet;
  const keepHint = saved ? 'saved (leave empty to keep)' : undefined;
  return (
    <Card withBorder data-testid="notifier-form">
      <form onSubmit={form.onSubmit((x) => save.mutate(x))}>
        <Stack gap="sm">
          <Text fw={600}>{notifier ? `Edit ${notifier.name}` : 'New notifier'}</Text>
          <Group align="flex-end">
            <TextInput label="Name" required disabled={!!notifier} autoFocus {...form.getInputProps('name')} />
            <SegmentedControl data={[{ value: 'webhook', label: 'Webhook' }, { value: 'email', label: 'Email' }]} {...form.getInputProps('type')} aria-label="Notifier type" />
          </Group>
          {v.type === 'webhook' ? (
            <Group align="flex-start" grow>
              <TextInput label="URL" required={!notifier?.webhook}
                placeholder={notifier?.webhook ? `${notifier.webhook.origin}/… saved (leave empty to keep)` : 'https://hooks.example.com/alertmanager'}
                {...form.getInputProps('webhook.url')} />
              <PasswordInput label="Authorization header" placeholder={keepHint ?? 'Bearer …'} {...form.getInputProps('webhook.authorization')} />
            </Group>
          ) : (
            <>
              <Group align="flex-start" grow>
                <TextInput label="SMTP server" required placeholder="smtp.example.com:587" {...form.getInputProps('email.smarthost')} />
                <TextInput label="From" required placeholder="routedeck@example.com" {...form.getInputProps('email.from')} />
              </Group>
              <TagsInput label="To" required placeholder="add an address, Enter" {...form.getInputProps('email.to')} />
              <Group align="flex-start" grow>
                <TextInput label="Username" {...form.getInputProps('email.username')} />
                <PasswordInput label="Password" placeholder={keepHint} {...form.getInputProps('email.password')} />
              </Group>
              <Switch label="Require STARTTLS" {...form.getInputProps('email.requireTls', { type: 'checkbox' })} />
            </>
          )}
          <TextInput label="Description" {...form.getInputProps('description')} />
          <Switch label="Only when firing (no resolved notifications)" {...form.getInputProps('skipResolved', { type: 'checkbox' })} />
          {saved && <Switch label="Remove the saved credential" checked={clear} onChange={(e) => setClear(e.currentTarget.checked)} />}
          <Group>
            <Button type="submit" loading={save.isPending}>Save notifier</Button>
            <Button variant="default" onClick={onDone}>Cancel</Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function duration(from: string, to: string | undefined): string {
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Incidents, newest first, as a timeline with what each notifier was told. */
function History({ rule, onRule }: { rule: string; onRule: (r: string) => void }) {
  const rules = useAlertRules();
  const metricOf = new Map((rules.data?.items ?? []).map((r) => [r.name, r.metric]));
  const history = useQuery({
    queryKey: alertKeys.history(rule),
    queryFn: () => get<{ items: Incident[] }>(`/alerts/history?limit=200${rule ? `&rule=${seg(rule)}` : ''}`),
    refetchInterval: STATE_REFRESH_MS,
  });
  return (
    <Stack>
      <Select label="Rule" placeholder="every rule" clearable searchable w={280} data={(rules.data?.items ?? []).map((r) => r.name)}
        value={rule || null} onChange={(r) => onRule(r ?? '')} />
      <QueryState query={history}>
        {(data) =>
          data.items.length === 0 ? (
            <Alert>Nothing has fired{rule ? ` for ${rule}` : ''} yet.</Alert>
          ) : (
            <Timeline bulletSize={22} lineWidth={2} data-testid="alert-history">
              {data.items.map((in_) => {
                const open = !in_.resolvedAt;
                const metric = metricOf.get(in_.rule) ?? '';
                return (
                  <Timeline.Item key={in_.id} color={open ? 'red' : 'green'}
                    bullet={open ? <IconAlertTriangle size={12} /> : <IconCheck size={12} />}
                    title={<Group gap="xs"><Text fw={600} size="sm">{in_.rule}</Text><Badge color={open ? 'red' : 'green'} variant="light">{open ? 'firing' : 'resolved'}</Badge></Group>}>
                    <Text size="sm">{in_.summary}</Text>
                    <Text size="xs" c="dimmed">
                      fired {new Date(in_.startedAt).toLocaleString()} at {formatValue(in_.value, metric)}
                      {in_.resolvedAt ? ` · resolved ${new Date(in_.resolvedAt).toLocaleString()}${in_.resolvedValue !== undefined ? ` at ${formatValue(in_.resolvedValue, metric)}` : ''}` : ''}
                      {` · ${open ? 'for' : 'lasted'} ${duration(in_.startedAt, in_.resolvedAt)}`}
                      {in_.note ? ` · ${in_.note}` : ''}
                    </Text>
                    {in_.deliveries.length > 0 && (
                      <Group gap={4} mt={4}>
                        {in_.deliveries.map((d, i) => (
                          <Badge key={i} size="sm" tt="none" variant="outline" color={d.ok ? 'teal' : 'red'} title={d.error || `${plural(d.attempts, 'attempt')}, ${new Date(d.at).toLocaleString()}`}>
                            {d.event} → {d.notifier}{d.ok ? '' : ' failed'}
                          </Badge>
                        ))}
                      </Group>
                    )}
                  </Timeline.Item>
                );
              })}
            </Timeline>
          )
        }
      </QueryState>
    </Stack>
  );
}
