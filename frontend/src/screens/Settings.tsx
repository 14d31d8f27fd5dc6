import { Alert, Badge, Button, Card, Code, CopyButton, Group, PasswordInput, Select, Stack, Switch, Table, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useMe } from '../auth';
import { modalsConfirm } from '../components/confirm';
import { ErrorNotice, QueryState } from '../components/Loading';
import { ApiError, del, friendlyMessage, get, post, put } from '../lib/api';
import { timeAgo } from '../lib/format';
import type { ListResponse } from '../lib/model';
import { getAll } from '../lib/queries';
import { problemsToFormErrors } from '../lib/problems';

const ROLES = ['viewer', 'editor', 'admin'];

/** Push targets, users, API tokens and the audit log. */
export default function Settings() {
  const me = useMe();
  const admin = me.role === 'admin';
  return (
    <Stack maw={1000}>
      <Title order={3}>Settings</Title>
      <Tabs defaultValue="targets" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="targets">Targets</Tabs.Tab>
          <Tabs.Tab value="users" disabled={!admin}>Users</Tabs.Tab>
          <Tabs.Tab value="tokens" disabled={!admin}>API tokens</Tabs.Tab>
          <Tabs.Tab value="audit" disabled={!admin}>Audit log</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="targets" pt="md"><Targets editable={admin} /></Tabs.Panel>
        <Tabs.Panel value="users" pt="md"><Users /></Tabs.Panel>
        <Tabs.Panel value="tokens" pt="md"><Tokens /></Tabs.Panel>
        <Tabs.Panel value="audit" pt="md"><Audit /></Tabs.Panel>
      </Tabs>
      {!admin && <Text size="sm" c="dimmed">Users, tokens and the audit log are for admins.</Text>}
    </Stack>
  );
}

interface TargetStatus {
  reachable: boolean;
  version?: string;
  error?: string;
}

/** GET /targets: what is configured, where it came from, and whether it answers. */
interface TargetsView {
  kubernetes: { kubeconfig?: string; context?: string; namespace?: string; from: string; contexts: string[]; currentContext?: string; inCluster: boolean; status: TargetStatus };
  consul: { address: string; from: string; tokenSet: boolean; datacenter?: string; kvPublish: boolean; status: TargetStatus };
}

const TARGET_FIELDS = ['kubernetes.kubeconfig', 'kubernetes.context', 'kubernetes.namespace', 'consul.address', 'consul.token', 'consul.datacenter', 'consul.kvPublish'];

function StatusBadge({ status }: { status: TargetStatus }) {
  return status.reachable ? (
    <Badge color="green" variant="light">reachable{status.version ? ` · ${status.version}` : ''}</Badge>
  ) : (
    <Badge color="red" variant="light" title={status.error}>unreachable</Badge>
  );
}

/** Kubernetes and Consul connection settings, with whether each answers. */
function Targets({ editable }: { editable: boolean }) {
  const q = useQuery({ queryKey: ['targets'], queryFn: () => get<TargetsView>('/targets') });
  if (q.error instanceof ApiError && (q.error.status === 404 || q.error.status === 501)) {
    return <Alert>Kubernetes and Consul targets are not configurable on this server; it reads KUBECONFIG and CONSUL_HTTP_ADDR.</Alert>;
  }
  return <QueryState query={q}>{(v) => <TargetsForm view={v} editable={editable} />}</QueryState>;
}

function TargetsForm({ view, editable }: { view: TargetsView; editable: boolean }) {
  const qc = useQueryClient();
  const form = useForm({
    initialValues: {
      kubernetes: { kubeconfig: view.kubernetes.kubeconfig ?? '', context: view.kubernetes.context ?? '', namespace: view.kubernetes.namespace ?? '' },
      consul: { address: view.consul.from === 'settings' ? view.consul.address : '', token: '', datacenter: view.consul.datacenter ?? '', kvPublish: view.consul.kvPublish },
    },
  });
  const save = useMutation({
    mutationFn: (v: typeof form.values) =>
      // An empty token box keeps the saved token: the server never shows it.
      put<TargetsView>('/targets', { kubernetes: v.kubernetes, consul: { ...v.consul, token: v.consul.token || undefined } }),
    onSuccess: (v) => {
      qc.setQueryData(['targets'], v);
      // What the pickers listed came from the old connection.
      qc.removeQueries({ queryKey: ['targets', 'kubernetes'] });
      qc.removeQueries({ queryKey: ['targets', 'consul'] });
      form.setFieldValue('consul.token', '');
      notifications.show({ color: 'green', title: 'Saved', message: 'Target settings saved.' });
    },
    onError: (e) => {
      const { fieldErrors, other } = problemsToFormErrors(e instanceof ApiError ? e.errors : [], (p) => TARGET_FIELDS.includes(p));
      form.setErrors(fieldErrors);
      if (other.length || !Object.keys(fieldErrors).length) notifications.show({ color: 'red', title: 'Not saved', message: friendlyMessage(e) });
    },
  });
  const k = view.kubernetes;
  const c = view.consul;
  return (
    <form onSubmit={form.onSubmit((v) => save.mutate(v))}>
      <Stack>
        <Card withBorder data-testid="target-kubernetes">
          <Group justify="space-between" mb="xs">
            <Text fw={600}>Kubernetes</Text>
            <StatusBadge status={k.status} />
          </Group>
          <Text size="xs" c="dimmed" mb="xs">
            {k.inCluster ? 'In-cluster service account' : `kubeconfig from ${k.from}`}{k.currentContext ? ` · context ${k.currentContext}` : ''}
            {k.status.error ? ` · ${k.status.error}` : ''}
          </Text>
          <Group align="flex-start" grow>
            <TextInput label="Kubeconfig path" placeholder="KUBECONFIG or ~/.kube/config" disabled={!editable} {...form.getInputProps('kubernetes.kubeconfig')} />
            <Select label="Context" placeholder={k.currentContext ?? 'current context'} data={k.contexts ?? []} clearable searchable disabled={!editable} {...form.getInputProps('kubernetes.context')} value={form.values.kubernetes.context || null} onChange={(v) => form.setFieldValue('kubernetes.context', v ?? '')} />
            <TextInput label="Namespace for gateways" placeholder="default" disabled={!editable} {...form.getInputProps('kubernetes.namespace')} />
          </Group>
        </Card>
        <Card withBorder data-testid="target-consul">
          <Group justify="space-between" mb="xs">
            <Text fw={600}>Consul</Text>
            <StatusBadge status={c.status} />
          </Group>
          <Text size="xs" c="dimmed" mb="xs">
            {c.address} from {c.from}{c.status.error ? ` · ${c.status.error}` : ''}
          </Text>
          <Group align="flex-start" grow>
            <TextInput label="Address" placeholder={c.address || 'CONSUL_HTTP_ADDR'} disabled={!editable} {...form.getInputProps('consul.address')} />
            <PasswordInput label="ACL token" placeholder={c.tokenSet ? 'saved (leave empty to keep)' : 'CONSUL_HTTP_TOKEN'} disabled={!editable} {...form.getInputProps('consul.token')} />
            <TextInput label="Datacenter" disabled={!editable} {...form.getInputProps('consul.datacenter')} />
          </Group>
          <Switch mt="sm" label="Publish configuration to Consul KV" disabled={!editable} {...form.getInputProps('consul.kvPublish', { type: 'checkbox' })} />
        </Card>
        {editable && <Button type="submit" w="fit-content" loading={save.isPending}>Save targets</Button>}
      </Stack>
    </form>
  );
}

interface User {
  id: number;
  name: string;
  role: string;
  createdAt: string;
}

function Users() {
  const qc = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => getAll<User>('/users') });
  const form = useForm({ initialValues: { name: '', role: 'viewer', password: '' } });
  const create = useMutation({
    mutationFn: (v: typeof form.values) => post<User>('/users', v),
    onSuccess: (u) => {
      notifications.show({ color: 'green', title: 'User added', message: `${u.name} can sign in now.` });
      form.reset();
      qc.invalidateQueries({ queryKey: ['users'] });
    },
    onError: (e) => {
      const { fieldErrors } = problemsToFormErrors(e instanceof ApiError ? e.errors : [], (p) => ['name', 'role', 'password'].includes(p));
      form.setErrors(Object.keys(fieldErrors).length ? fieldErrors : { name: friendlyMessage(e) });
    },
  });
  return (
    <Stack>
      <Card withBorder>
        <form onSubmit={form.onSubmit((v) => create.mutate(v))}>
          <Group align="flex-start">
            <TextInput label="Name" {...form.getInputProps('name')} />
            <Select label="Role" data={ROLES} {...form.getInputProps('role')} w={120} />
            <PasswordInput label="Password" {...form.getInputProps('password')} w={200} />
            <Button type="submit" mt={25} loading={create.isPending}>Add user</Button>
          </Group>
        </form>
      </Card>
      <QueryState query={users}>
        {(data) => (
          <Table fz="sm">
            <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Role</Table.Th><Table.Th>Created</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>
              {data.items.map((u) => (
                <Table.Tr key={u.id}><Table.Td>{u.name}</Table.Td><Table.Td><Badge variant="light">{u.role}</Badge></Table.Td><Table.Td>{timeAgo(u.createdAt)}</Table.Td></Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}

interface Token {
  id: number;
  name: string;
  role: string;
  createdAt: string;
  lastUsed?: string;
}

function Tokens() {
  const qc = useQueryClient();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => getAll<Token>('/tokens') });
  const form = useForm({ initialValues: { name: '', role: 'viewer' } });
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (v: typeof form.values) => post<{ token: string }>('/tokens', v),
    onSuccess: (r) => {
      setSecret(r.token);
      form.reset();
      qc.invalidateQueries({ queryKey: ['tokens'] });
    },
    onError: (e) => form.setErrors({ name: friendlyMessage(e) }),
  });
  const revoke = useMutation({
    mutationFn: (id: number) => del<void>(`/tokens/${id}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tokens'] }),
    onError: (e) => notifications.show({ color: 'red', title: 'Could not revoke', message: friendlyMessage(e) }),
  });
  return (
    <Stack>
      <Card withBorder>
        <form onSubmit={form.onSubmit((v) => create.mutate(v))}>
          <Group align="flex-start">
            <TextInput label="Name" placeholder="ci-deploy" {...form.getInputProps('name')} />
            <Select label="Role" data={ROLES} {...form.getInputProps('role')} w={120} />
            <Button type="submit" mt={25} loading={create.isPending}>Create token</Button>
          </Group>
        </form>
        {secret && (
          <Alert mt="sm" color="yellow" title="Copy the token now: it is shown only once">
            <Group gap="xs">
              <Code>{secret}</Code>
              <CopyButton value={secret}>{({ copied, copy }) => <Button size="compact-xs" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton>
            </Group>
          </Alert>
        )}
      </Card>
      <QueryState query={tokens}>
        {(data) => (
          <Table fz="sm">
            <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Role</Table.Th><Table.Th>Created</Table.Th><Table.Th>Last used</Table.Th><Table.Th /></Table.Tr></Table.Thead>
            <Table.Tbody>
              {data.items.map((t) => (
                <Table.Tr key={t.id}>
                  <Table.Td>{t.name}</Table.Td>
                  <Table.Td><Badge variant="light">{t.role}</Badge></Table.Td>
                  <Table.Td>{timeAgo(t.createdAt)}</Table.Td>
                  <Table.Td>{t.lastUsed ? timeAgo(t.lastUsed) : 'never'}</Table.Td>
                  <Table.Td>
                    <Button size="compact-xs" color="red" variant="subtle" onClick={() => modalsConfirm(`Revoke token ${t.name}?`, 'Scripts using it stop working at once.', () => revoke.mutate(t.id), 'Revoke')}>Revoke</Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}

interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail?: string;
}

function uniqueById<T extends { id: number }>(items: T[]): T[] {
  const seen = new Set<number>();
  return items.filter((it) => !seen.has(it.id) && !!seen.add(it.id));
}

/** The audit log, newest first, a page at a time: older entries on request. */
function Audit() {
  const audit = useInfiniteQuery({
    queryKey: ['audit'],
    queryFn: ({ pageParam }) => get<ListResponse<AuditEntry>>(pageParam ? `/audit?cursor=${encodeURIComponent(pageParam)}` : '/audit'),
    initialPageParam: '',
    getNextPageParam: (last) => last.next,
  });
  if (audit.isError) return <ErrorNotice error={audit.error} />;
  const entries = {
    isPending: audit.isPending,
    isError: audit.isError,
    error: audit.error,
    // Entries written between two pages push older ones down a page; each is shown once.
    data: audit.data ? uniqueById(audit.data.pages.flatMap((p) => p.items)) : undefined,
  };
  return (
    <QueryState query={entries}>
      {(data) => (
        <Stack gap="xs">
          <Table fz="sm">
            <Table.Thead><Table.Tr><Table.Th>When</Table.Th><Table.Th>Who</Table.Th><Table.Th>What</Table.Th><Table.Th>Target</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>
              {data.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{timeAgo(a.at)}</Table.Td>
                  <Table.Td>{a.actor}</Table.Td>
                  {/* The badge keeps its whole width: a long target never cuts the action short. */}
                  <Table.Td>
                    <Badge variant="light" tt="none" maw="none" miw="max-content" color={a.action.includes('fail') ? 'red' : 'gray'} data-testid="audit-action">{a.action}</Badge>
                  </Table.Td>
                  <Table.Td className="mono" style={{ wordBreak: 'break-word' }}>{a.target}{a.detail ? ` · ${a.detail}` : ''}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {audit.hasNextPage && (
            <Group>
              <Button variant="subtle" size="xs" loading={audit.isFetchingNextPage} onClick={() => audit.fetchNextPage()}>Show older entries</Button>
            </Group>
          )}
        </Stack>
      )}
    </QueryState>
  );
}
