import { Alert, Anchor, Badge, Button, Card, Code, CopyButton, Group, NumberInput, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconCopy, IconPlayerPlay, IconPlayerStop, IconSend } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCanEdit } from '../auth';
import { del, friendlyMessage, get, post, put, seg } from '../lib/api';
import {
  STATE_LABEL,
  localKey,
  localRefetchInterval,
  statusColor,
  statusSummary,
  type LocalGateway as LocalGatewayState,
  type LocalTraffic,
} from '../lib/localGateway';
import { keys } from '../lib/queries';
import { plural } from '../lib/format';

/**
 * "Run a local gateway": the gateway's published version served by
 * routedeck's simulated Envoy inside the server, on loopback ports, so a
 * newcomer sends it requests and watches them reach the request log and
 * the overview without an Envoy or a cluster.
 */
export function LocalGateway({ gateway }: { gateway: string }) {
  const qc = useQueryClient();
  const canEdit = useCanEdit();
  const path = `/gateways/${seg(gateway)}/local`;
  const status = useQuery({
    queryKey: localKey(gateway),
    queryFn: () => get<LocalGatewayState>(path),
    refetchInterval: (q) => localRefetchInterval(q.state.data),
  });
  const [traffic, setTraffic] = useState<LocalTraffic | null>(null);
  const [count, setCount] = useState<number | string>(50);
  const settle = (st: LocalGatewayState) => {
    qc.setQueryData(localKey(gateway), st);
    // It joins the gateway as one of its proxies.
    void qc.invalidateQueries({ queryKey: keys.proxies(gateway) });
  };
  const start = useMutation({ mutationFn: () => put<LocalGatewayState>(path, {}), onSuccess: settle });
  const stop = useMutation({
    mutationFn: () => del<LocalGatewayState>(path),
    onSuccess: (st) => {
      setTraffic(null);
      settle(st);
    },
  });
  const send = useMutation({
    mutationFn: () => post<LocalTraffic>(`${path}/traffic`, { requests: Number(count) }),
    onSuccess: setTraffic,
  });
  const st = status.data;
  const running = !!st && st.state !== 'stopped';
  const failure = start.error ?? stop.error ?? send.error ?? status.error;
  return (
    <Card withBorder data-testid="local-gateway">
      <Stack gap="sm">
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={4}>Local gateway</Title>
            {st && (
              <Badge color={STATE_LABEL[st.state].color} variant="light" data-testid="local-state">
                {STATE_LABEL[st.state].label}
              </Badge>
            )}
          </Group>
          {canEdit && (
            <Group gap="xs">
              {running ? (
                <Button size="xs" variant="light" color="red" leftSection={<IconPlayerStop size={14} />} loading={stop.isPending} onClick={() => stop.mutate()}>
                  Stop
                </Button>
              ) : (
                <Button size="xs" leftSection={<IconPlayerPlay size={14} />} loading={start.isPending} disabled={!st} onClick={() => start.mutate()}>
                  Run a local gateway
                </Button>
              )}
            </Group>
          )}
        </Group>
        <Text size="sm" c="dimmed">
          Serves the published version of {gateway} from inside this server, on loopback ports: routedeck&apos;s simulated Envoy joins the gateway over ADS
          like its other proxies, with a certificate of this server&apos;s CA, and reports every request it serves. Send it requests and watch them arrive
          in the gateway&apos;s request log and on the <Anchor href="#/">overview</Anchor>. It stops when the server stops.
        </Text>
        {failure && <Alert color="red" role="alert">{friendlyMessage(failure)}</Alert>}
        {st?.message && (
          <Alert color={st.state === 'refused' ? 'red' : 'yellow'} data-testid="local-message">
            {st.message}
            {st.state === 'waiting' && (
              <>
                {' '}
                <Anchor href="#/publish">Publish</Anchor>
              </>
            )}
          </Alert>
        )}
        {st && running && <Running st={st} />}
        {st?.state === 'ready' && canEdit && (
          <Group gap="xs" align="flex-end">
            <NumberInput label="Sample requests" aria-label="Sample requests" min={1} max={1000} w={140} size="xs" value={count} onChange={setCount} />
            <Tooltip label="One request per rule in turn, and one that no rule matches, sent to the local listener">
              <Button size="xs" variant="light" leftSection={<IconSend size={14} />} loading={send.isPending} onClick={() => send.mutate()}>
                Send sample traffic
              </Button>
            </Tooltip>
          </Group>
        )}
        {traffic && <TrafficResults traffic={traffic} />}
      </Stack>
    </Card>
  );
}

function Running({ st }: { st: LocalGatewayState }) {
  return (
    <Stack gap="xs">
      <Group gap="lg">
        <Text size="sm">
          {st.version != null ? `Serving published version ${st.version}` : 'No version acknowledged yet'} · node <span className="mono">{st.node}</span>
        </Text>
        {st.admin && (
          <Text size="sm" c="dimmed">
            admin <Anchor href={`${st.admin}/stats`} target="_blank" className="mono">{st.admin}</Anchor>
          </Text>
        )}
      </Group>
      {st.listeners.length > 0 && (
        <Group gap="xs" data-testid="local-listeners">
          <Text size="sm" fw={500}>Listening on</Text>
          {st.listeners.map((l) => (
            <Group key={l.name} gap={4}>
              <Anchor href={l.url} target="_blank" className="mono" size="sm">{l.url}</Anchor>
              <Text size="xs" c="dimmed">({l.name}{l.ready ? '' : ', waiting for its routes'})</Text>
            </Group>
          ))}
        </Group>
      )}
      {st.samples.length > 0 && (
        <Stack gap={4} data-testid="local-samples">
          <Text size="sm" fw={500}>Send a request</Text>
          {st.samples.map((s, i) => (
            <Group key={i} gap="xs" wrap="nowrap" align="center">
              <Code className="mono" style={{ flex: 1, overflowX: 'auto', whiteSpace: 'nowrap' }}>{s.curl}</Code>
              <Text size="xs" c="dimmed" w={130}>{s.rule ? <>rule <span className="mono">{s.rule}</span></> : 'no rule matches'}</Text>
              <CopyButton value={s.curl}>
                {({ copied, copy }) => (
                  <Button size="compact-xs" variant="subtle" leftSection={<IconCopy size={12} />} onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>
                )}
              </CopyButton>
            </Group>
          ))}
        </Stack>
      )}
    </Stack>
  );
}

function TrafficResults({ traffic }: { traffic: LocalTraffic }) {
  return (
    <Stack gap={4} data-testid="local-traffic">
      <Text size="sm">
        Sent {plural(traffic.sent, 'request')} through the local gateway. The request log and the overview show them within a few seconds.
      </Text>
      <Table fz="sm" striped>
        <Table.Thead>
          <Table.Tr><Table.Th>Rule</Table.Th><Table.Th>Request</Table.Th><Table.Th>Sent</Table.Th><Table.Th>Answers</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {traffic.results.map((r, i) => (
            <Table.Tr key={i}>
              <Table.Td>{r.rule ? <Anchor href={`#/routes/${seg(r.rule)}`} className="mono">{r.rule}</Anchor> : <Text size="sm" c="dimmed">no rule</Text>}</Table.Td>
              <Table.Td className="mono">
                {r.method} {r.url}
                {Object.entries(r.headers ?? {}).map(([k, v]) => (
                  <Text key={k} span size="xs" c="dimmed" className="mono"> · {k}: {v}</Text>
                ))}
              </Table.Td>
              <Table.Td>{r.sent}</Table.Td>
              <Table.Td>
                <Group gap={4}>
                  {Object.entries(r.statuses).map(([code, n]) => (
                    <Badge key={code} variant="light" color={statusColor(code)}>{statusSummary({ [code]: n })}</Badge>
                  ))}
                  {(r.errors ?? 0) > 0 && (
                    <Tooltip label={r.error ?? ''}>
                      <Badge variant="light" color="red">{statusSummary({}, r.errors)}</Badge>
                    </Tooltip>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {traffic.results.some((r) => Object.keys(r.statuses).some((c) => c.startsWith('5'))) && (
        <Text size="sm" c="dimmed" data-testid="local-traffic-5xx">
          A 5xx answer is the gateway's own when it could not reach the rule&apos;s upstream from this machine (the demo&apos;s upstreams are loopback
          ports where nothing runs): the request log says why, with Envoy&apos;s response flags.
        </Text>
      )}
    </Stack>
  );
}
