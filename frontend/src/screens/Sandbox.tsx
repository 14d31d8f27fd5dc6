import { ActionIcon, Alert, Badge, Button, Card, Code, Collapse, Grid, Group, Kbd, ScrollArea, Select, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useDisclosure, useHotkeys, useLocalStorage } from '@mantine/hooks';
import { IconDeviceFloppy, IconPlus, IconSend, IconTerminal2, IconTrash } from '@tabler/icons-react';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useCanEdit } from '../auth';
import { friendlyMessage, post } from '../lib/api';
import { upstreamExpectation, type RouteTest } from '../lib/routeTests';
import { useState } from 'react';
import { ClusterHealthView } from '../components/HostHealth';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { TraceView } from '../components/TraceView';
import { useCurrentGateway } from '../gateway';
import { parseCurl } from '../lib/curl';
import { MOD_KEY } from '../lib/format';
import type { SandboxRequest, SandboxResult } from '../lib/model';
import { sendSandboxRequest, useGateways, usePublished, useRoute } from '../lib/queries';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

interface Draft {
  method: string;
  url: string;
  headers: { name: string; value: string }[];
  body: string;
  listener?: string;
}

const EMPTY: Draft = { method: 'GET', url: 'http://shop.example.com/', headers: [], body: '' };

function toRequest(d: Draft): SandboxRequest {
  const headers: Record<string, string> = {};
  for (const h of d.headers) if (h.name.trim()) headers[h.name.trim().toLowerCase()] = h.value;
  return { method: d.method, url: d.url.trim(), headers, body: d.body || undefined, listener: d.listener || undefined };
}

/** What a request can run against: the draft, the live version, or any published version. */
function useTargets(gateway: string | undefined) {
  const published = usePublished(gateway);
  const versions = published.data ?? [];
  const options = [{ value: 'draft', label: 'Draft' }];
  if (versions.length > 0) {
    options.push({ value: 'live', label: `Live (version ${versions[0].version})` });
    for (const p of versions) options.push({ value: `v${p.version}`, label: `Version ${p.version}${p.note ? ` (${p.note})` : ''}` });
  }
  return options;
}

/** How a result names what it ran against. */
function targetLabel(target: string, result?: SandboxResult) {
  if (target === 'draft' || !result?.version) return 'the draft';
  return target === 'live' ? `live (version ${result.version})` : `version ${result.version}`;
}

/** Compose a request (or paste curl), send it through the sandbox gateway and see where it went and why. */
export default function Sandbox() {
  const { gateway } = useCurrentGateway();
  const [draft, setDraft] = useLocalStorage<Draft>({ key: 'routedeck.sandbox', defaultValue: EMPTY });
  const [curlOpen, curl] = useDisclosure(false);
  const [curlText, setCurlText] = useState('');
  const [curlError, setCurlError] = useState<string | null>(null);
  const targets = useTargets(gateway);
  const [chosen, setTarget] = useState('draft');
  // A version of another gateway, or one not listed yet, falls back to the draft.
  const target = targets.some((t) => t.value === chosen) ? chosen : 'draft';
  const send = useMutation({ mutationFn: (v: { req: SandboxRequest; target: string }) => sendSandboxRequest(gateway!, v.req, v.target) });
  // A listener is chosen only on a gateway with several: rules may answer on some of them only.
  const gws = useGateways();
  const listeners = gws.data?.items.find((g) => g.name === gateway)?.listeners ?? [];

  const doSend = () => {
    if (!gateway || !draft.url.trim()) return;
    send.mutate({ req: toRequest(draft), target });
  };
  useHotkeys([['mod+Enter', doSend]], [], true);

  const importCurl = () => {
    try {
      const r = parseCurl(curlText);
      setDraft({ method: r.method, url: r.url, headers: Object.entries(r.headers).map(([name, value]) => ({ name, value })), body: r.body ?? '', listener: draft.listener });
      setCurlError(null);
      curl.close();
    } catch (e) {
      setCurlError((e as Error).message);
    }
  };
  const setHeader = (i: number, patch: Partial<Draft['headers'][number]>) =>
    setDraft({ ...draft, headers: draft.headers.map((h, j) => (j === i ? { ...h, ...patch } : h)) });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Sandbox</Title>
        <Group gap="xs">
          <Text size="sm" c="dimmed">Requests go to</Text>
          <Select
            aria-label="Target"
            data-testid="sandbox-target"
            size="xs"
            w={200}
            data={targets}
            value={target}
            onChange={(v) => v && setTarget(v)}
            allowDeselect={false}
          />
          <Text size="sm" c="dimmed">of <b>{gateway ?? '—'}</b> on a simulated gateway with mock upstreams.</Text>
        </Group>
      </Group>
      <Grid>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Card withBorder>
            <Stack gap="sm">
              <Group gap="xs" wrap="nowrap">
                <Select aria-label="Method" data={METHODS} value={draft.method} onChange={(m) => m && setDraft({ ...draft, method: m })} w={110} allowDeselect={false} searchable />
                <TextInput aria-label="URL" className="mono" style={{ flex: 1 }} value={draft.url} onChange={(e) => setDraft({ ...draft, url: e.currentTarget.value })} placeholder="http://shop.example.com/static/app.js" />
              </Group>
              {listeners.length > 1 && (
                <Select
                  label="Listener"
                  size="xs"
                  data-testid="sandbox-listener"
                  placeholder="Any (rules of every listener)"
                  data={listeners.map((l) => ({ value: l.name, label: `${l.name} (${l.protocol} ${l.port})` }))}
                  value={draft.listener && listeners.some((l) => l.name === draft.listener) ? draft.listener : null}
                  onChange={(v) => setDraft({ ...draft, listener: v ?? undefined })}
                  clearable
                />
              )}
              <Text size="sm" fw={500}>Headers</Text>
              {draft.headers.map((h, i) => (
                <Group key={i} gap="xs" wrap="nowrap">
                  <TextInput aria-label={`Header name ${i + 1}`} placeholder="name" value={h.name} onChange={(e) => setHeader(i, { name: e.currentTarget.value })} w={170} size="xs" />
                  <TextInput aria-label={`Header value ${i + 1}`} placeholder="value" value={h.value} onChange={(e) => setHeader(i, { value: e.currentTarget.value })} style={{ flex: 1 }} size="xs" />
                  <ActionIcon variant="subtle" color="gray" aria-label={`Remove header ${i + 1}`} onClick={() => setDraft({ ...draft, headers: draft.headers.filter((_, j) => j !== i) })}>
                    <IconTrash size={14} />
                  </ActionIcon>
                </Group>
              ))}
              <Button size="compact-xs" variant="light" w="fit-content" leftSection={<IconPlus size={12} />} onClick={() => setDraft({ ...draft, headers: [...draft.headers, { name: '', value: '' }] })}>
                Header
              </Button>
              {!['GET', 'HEAD'].includes(draft.method) && (
                <Textarea label="Body" autosize minRows={3} maxRows={12} classNames={{ input: 'mono' }} value={draft.body} onChange={(e) => setDraft({ ...draft, body: e.currentTarget.value })} />
              )}
              <Group justify="space-between">
                <Button variant="subtle" size="xs" leftSection={<IconTerminal2 size={14} />} onClick={curl.toggle}>Paste curl</Button>
                <Button leftSection={<IconSend size={16} />} onClick={doSend} loading={send.isPending} disabled={!gateway}>
                  Send <Kbd ml={6} size="xs">{MOD_KEY} ⏎</Kbd>
                </Button>
              </Group>
              <Collapse in={curlOpen}>
                <Stack gap="xs">
                  <Textarea
                    aria-label="curl command"
                    placeholder="curl -H 'x-canary: 1' https://shop.example.com/static/app.js"
                    className="mono"
                    autosize
                    minRows={3}
                    value={curlText}
                    onChange={(e) => setCurlText(e.currentTarget.value)}
                    error={curlError}
                  />
                  <Button size="xs" w="fit-content" onClick={importCurl}>Use this command</Button>
                </Stack>
              </Collapse>
            </Stack>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          {send.isPending && <DelayedLoader label="Sending" />}
          {send.isError && <ErrorNotice error={send.error} title="The sandbox could not send the request" />}
          {send.data && !send.isPending && (
            <Stack gap="sm">
              {send.data.version !== undefined && (
                <Alert variant="light" color="violet" p="xs" data-testid="sandbox-ran-against">
                  Ran against {targetLabel(send.variables!.target, send.data)}, not the draft: a simulated gateway with that version&apos;s configuration.
                </Alert>
              )}
              <SaveAsTest gateway={gateway!} request={send.variables!.req} result={send.data} />
              <SandboxResultView result={send.data} />
            </Stack>
          )}
          {send.isIdle && <Alert variant="light">Send a request to see the response, the upstream that got it, and the trace of every rule.</Alert>}
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

/** Keeps the request just sent, with what happened to it as the expectation, as a route test. */
function SaveAsTest({ gateway, request, result }: { gateway: string; request: SandboxRequest; result: SandboxResult }) {
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  // The winning rule's split, so a weighted result is saved as membership.
  const rule = useRoute(result.rule ?? undefined);
  const save = useMutation({
    mutationFn: () => {
      const expect: RouteTest['expect'] = { status: result.response.status };
      if (result.rule) expect.rule = result.rule;
      if (result.upstream) Object.assign(expect, upstreamExpectation(rule.data?.then.forward, result.upstream));
      return post<RouteTest>('/tests', { name, gateway, request, expect });
    },
    onSuccess: (t) => {
      notifications.show({ color: 'green', title: 'Test saved', message: `${t.name} now runs before every publish of ${gateway}.` });
      setName('');
      qc.invalidateQueries({ queryKey: ['tests'] });
    },
  });
  if (!canEdit) return null;
  const up = result.upstream ? upstreamExpectation(rule.data?.then.forward, result.upstream) : {};
  const upstreamText = up.upstreamIn ? `, upstream one of ${up.upstreamIn.join(', ')} (a weighted split)` : up.upstream ? `, upstream ${up.upstream}` : '';
  return (
    <Group gap="xs" align="flex-start">
      <TextInput
        size="xs"
        aria-label="Test name"
        placeholder={`name, e.g. ${result.rule ?? 'default'}-matches`}
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        error={save.isError ? friendlyMessage(save.error) : undefined}
        w={260}
      />
      <Button size="xs" variant="light" leftSection={<IconDeviceFloppy size={14} />} disabled={!name.trim()} loading={save.isPending || (!!result.rule && rule.isPending)} onClick={() => save.mutate()}>
        Save as route test
      </Button>
      <Text size="xs" c="dimmed" mt={6} data-testid="test-expectation">
        expects rule {result.rule ?? 'none'}
        {upstreamText}, status {result.response.status}
      </Text>
    </Group>
  );
}

function HeaderTable({ headers }: { headers?: Record<string, string | string[]> }) {
  const rows = Object.entries(headers ?? {});
  if (rows.length === 0) return <Text size="xs" c="dimmed">no headers</Text>;
  return (
    <Table fz="xs" verticalSpacing={2} withRowBorders={false}>
      <Table.Tbody>
        {rows.map(([k, v]) => (
          <Table.Tr key={k}>
            <Table.Td className="mono" c="dimmed" w="35%">{k}</Table.Td>
            <Table.Td className="mono">{Array.isArray(v) ? v.join(', ') : v}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** JSON bodies indented for reading; anything else as it came. */
function prettyBody(body: string | undefined): string {
  if (!body) return '(empty)';
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function statusColor(s: number) {
  return s >= 500 ? 'red' : s >= 400 ? 'orange' : s >= 300 ? 'blue' : 'green';
}

/** Response, upstream and trace of one sandbox request. */
export function SandboxResultView({ result }: { result: SandboxResult }) {
  return (
    <Stack gap="sm" data-testid="sandbox-result">
      <Card withBorder>
        <Group gap="xs" mb="xs">
          <Badge size="lg" color={statusColor(result.response.status)}>{result.response.status}</Badge>
          <Text size="sm">matched rule <b data-testid="matched-rule">{result.rule ?? 'none'}</b></Text>
          {result.upstream && <Text size="sm">→ upstream <b>{result.upstream}</b>{result.endpoint && <Text span c="dimmed"> ({result.endpoint})</Text>}</Text>}
          {result.durationMs !== undefined && <Text size="xs" c="dimmed">{result.durationMs.toFixed(1)} ms</Text>}
        </Group>
        <Grid>
          <Grid.Col span={6}>
            <Text size="xs" fw={600} mb={2}>Response headers</Text>
            <HeaderTable headers={result.response.headers} />
          </Grid.Col>
          <Grid.Col span={6}>
            <Text size="xs" fw={600} mb={2}>Response body</Text>
            <ScrollArea.Autosize mah={160}>
              <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{prettyBody(result.response.body)}</Code>
            </ScrollArea.Autosize>
          </Grid.Col>
        </Grid>
      </Card>
      {result.webSocket && (
        <Card withBorder data-testid="websocket-result">
          <Group gap="xs" mb={4}>
            <Text size="sm" fw={600}>WebSocket</Text>
            <Badge size="sm" color={result.webSocket.accepted ? 'green' : 'red'}>{result.webSocket.accepted ? 'handshake accepted' : 'handshake not accepted'}</Badge>
            <Badge size="sm" color={result.webSocket.echoed ? 'green' : 'red'}>{result.webSocket.echoed ? 'message echoed' : 'no echo'}</Badge>
            {result.webSocket.echoed && <Text size="xs" c="dimmed">round trip {result.webSocket.roundTripMs.toFixed(1)} ms</Text>}
          </Group>
          <Text size="sm">sent <Code>{result.webSocket.sent}</Code>{result.webSocket.received !== '' && <>, received <Code>{result.webSocket.received}</Code></>}</Text>
          {result.webSocket.error && <Text size="sm" c="red">{result.webSocket.error}</Text>}
        </Card>
      )}
      {result.ruleMismatch && (
        <Alert color="red" title="The simulated Envoy and the rules disagree" role="alert">
          Envoy chose <b>{result.ruleMismatch.envoy || 'no rule'}</b>, the rules say <b>{result.ruleMismatch.evaluator || 'no rule'}</b>. This is a translation bug worth reporting.
        </Alert>
      )}
      {result.received && (
        <Card withBorder>
          <Text size="sm" fw={600} mb={4}>What {result.upstream ?? 'the upstream'} received</Text>
          <Code>{result.received.method} {result.received.path}</Code>
          {result.received.tls && (
            <Text size="xs" c="dimmed" mt={4}>
              over {result.received.tls.version}, SNI {result.received.tls.serverName || 'none'}
              {result.received.tls.alpn ? `, ALPN ${result.received.tls.alpn}` : ''}
            </Text>
          )}
          <HeaderTable headers={result.received.headers} />
        </Card>
      )}
      {result.envoy?.health && (
        <Card withBorder>
          <Text size="sm" fw={600} mb={4}>Hosts of {result.upstream ?? 'the upstream'}</Text>
          <ClusterHealthView health={result.envoy.health} />
        </Card>
      )}
      <Card withBorder>
        <Text size="sm" fw={600} mb="xs">Trace</Text>
        <TraceView trace={result.trace ?? []} winner={result.rule} />
      </Card>
    </Stack>
  );
}
