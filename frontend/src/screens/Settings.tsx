import { Alert, Badge, Button, Card, Code, CopyButton, Group, PasswordInput, Select, Stack, Table, Tabs, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useMe } from '../auth';
import { modalsConfirm } from '../components/confirm';
import { ErrorNotice, QueryState } from '../components/Loading';
import { ApiError, del, friendlyMessage, get, post, put } from '../lib/api';
import { timeAgo } from '../lib/format';
import type { ListResponse } from '../lib/model';
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

/** Kubernetes and Consul connection settings, edited as JSON since their shape belongs to the server. */
function Targets({ editable }: { editable: boolean }) {
  const q = useQuery({ queryKey: ['targets'], queryFn: () => get<unknown>('/targets') });
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const qc = useQueryClient();
  useEffect(() => {
    if (q.data !== undefined) setText(JSON.stringify(q.data, null, 2));
  }, [q.data]);
  const save = useMutation({
    mutationFn: (body: unknown) => put<unknown>('/targets', body),
    onSuccess: () => {
      notifications.show({ color: 'green', title: 'Saved', message: 'Target settings saved.' });
      qc.invalidateQueries({ queryKey: ['targets'] });
    },
    onError: (e) => setError(e instanceof ApiError && e.errors.length ? e.errors.map((p) => `${p.field}: ${p.message}`).join('\n') : friendlyMessage(e)),
  });
  if (q.error instanceof ApiError && (q.error.status === 404 || q.error.status === 501)) {
    return <Alert>Kubernetes and Consul targets are not configurable on this server yet; it reads KUBECONFIG and CONSUL_HTTP_ADDR.</Alert>;
  }
  return (
    <QueryState query={q}>
      {() => (
        <Stack>
          <Textarea className="mono" autosize minRows={8} value={text} onChange={(e) => setText(e.currentTarget.value)} readOnly={!editable} error={error} aria-label="Targets" />
          {editable && (
            <Button
              w="fit-content"
              loading={save.isPending}
              onClick={() => {
                try {
                  setError(null);
                  save.mutate(JSON.parse(text));
                } catch {
                  setError('This is not valid JSON.');
                }
              }}
            >
              Save targets
            </Button>
          )}
        </Stack>
      )}
    </QueryState>
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
  const users = useQuery({ queryKey: ['users'], queryFn: () => get<ListResponse<User>>('/users') });
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
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => get<ListResponse<Token>>('/tokens') });
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

function Audit() {
  const audit = useQuery({ queryKey: ['audit'], queryFn: () => get<ListResponse<AuditEntry>>('/audit') });
  if (audit.isError) return <ErrorNotice error={audit.error} />;
  return (
    <QueryState query={audit}>
      {(data) => (
        <Table fz="sm">
          <Table.Thead><Table.Tr><Table.Th>When</Table.Th><Table.Th>Who</Table.Th><Table.Th>What</Table.Th><Table.Th>Target</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {data.items.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>{timeAgo(a.at)}</Table.Td>
                <Table.Td>{a.actor}</Table.Td>
                <Table.Td><Badge variant="light" color={a.action.includes('fail') ? 'red' : 'gray'}>{a.action}</Badge></Table.Td>
                <Table.Td className="mono">{a.target}{a.detail ? ` · ${a.detail}` : ''}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </QueryState>
  );
}
