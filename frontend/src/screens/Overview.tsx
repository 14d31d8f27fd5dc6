import { Alert, Anchor, Badge, Card, Group, Progress, SegmentedControl, SimpleGrid, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useLocalStorage } from '@mantine/hooks';
import { IconAlertOctagon } from '@tabler/icons-react';
import { QueryState } from '../components/Loading';
import type { Gateway } from '../lib/model';
import { summarizeProxies, type ProxySummary } from '../lib/proxies';
import { useGateways, useLint, useProxies, usePublished, useRevisions, useRoutes } from '../lib/queries';
import { shortTypeUrl, timeAgo } from '../lib/format';
import { trafficSummary, useTraffic } from '../lib/requestLog';

/** The traffic windows the overview offers. */
const TRAFFIC_WINDOWS = [
  { value: '1h', label: '1 h' },
  { value: '6h', label: '6 h' },
  { value: '24h', label: '24 h' },
  { value: '168h', label: '7 d' },
  { value: '720h', label: '30 d' },
];

/**
 * The landing page: every gateway with its proxies at a glance, last
 * publish, rules that never match and any NACK; then what changed lately.
 */
export function Overview() {
  const gws = useGateways();
  const routes = useRoutes();
  const [window, setWindow] = useLocalStorage({ key: 'routedeck.overview.window', defaultValue: '1h' });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Overview</Title>
        <Group gap="xs">
          <Text size="sm" c="dimmed">Traffic over</Text>
          <SegmentedControl size="xs" data={TRAFFIC_WINDOWS} value={window} onChange={setWindow} aria-label="Traffic window" />
        </Group>
      </Group>
      <QueryState query={gws}>
        {(data) =>
          data.items.length === 0 ? (
            <Alert>No gateways yet. Apply a workspace file with <code>routedeck apply -f</code> to start.</Alert>
          ) : (
            <SimpleGrid cols={{ base: 1, md: 2 }}>
              {data.items.map((g) => (
                <GatewayCard key={g.name} gateway={g} window={window} routeCount={routes.data?.items.filter((r) => r.gateway === g.name).length} />
              ))}
            </SimpleGrid>
          )
        }
      </QueryState>
      <RecentChanges />
    </Stack>
  );
}

function GatewayCard({ gateway, routeCount, window }: { gateway: Gateway; routeCount?: number; window: string }) {
  const proxies = useProxies(gateway.name);
  const published = usePublished(gateway.name);
  const lint = useLint(gateway.name);
  const items = proxies.data?.items ?? [];
  const nacks = items.filter((p) => p.connected && p.nack);
  const shadowed = lint.data?.items.length ?? 0;
  return (
    <Card withBorder padding="md" data-testid={`gateway-${gateway.name}`}>
      <Group justify="space-between" mb="xs">
        <Anchor href={`#/gateways/${encodeURIComponent(gateway.name)}`} fw={600} c="inherit">{gateway.name}</Anchor>
        <Group gap={4}>
          {(gateway.listeners ?? []).map((l) => (
            <Badge key={l.name} variant="light">{l.protocol} :{l.port}</Badge>
          ))}
        </Group>
      </Group>
      <Stack gap={6}>
        <Text size="sm">
          Routes: <b>{routeCount ?? '…'}</b>
          {shadowed > 0 && (
            <Anchor href="#/routes" size="sm" c="orange" ml="xs" data-testid="overview-shadowed">
              {shadowed} never {shadowed === 1 ? 'matches' : 'match'}
            </Anchor>
          )}
        </Text>
        <div>
          <Text size="sm">
            Proxies:{' '}
            {proxies.isError ? <b>status unavailable</b> : proxies.isPending ? '…' : items.length === 0 ? <Text span c="dimmed">none connected</Text> : <ProxyCounts s={summarizeProxies(items)} />}
          </Text>
          {items.length > 0 && <ProxyBar s={summarizeProxies(items)} />}
        </div>
        <Text size="sm">
          Last publish:{' '}
          {published.data?.[0] ? (
            <b>
              v{published.data[0].version} · {timeAgo(published.data[0].at)} by {published.data[0].actor}
            </b>
          ) : (
            <Text span c="dimmed">never</Text>
          )}
        </Text>
        <GatewayTraffic gateway={gateway.name} window={window} />
        {nacks.map((p) => (
          <Alert key={p.node} color="red" icon={<IconAlertOctagon size={16} />} p="xs" title={`${p.node} rejected ${shortTypeUrl(p.nack!.typeUrl)}`}>
            <Text size="sm" className="mono">{p.nack!.error}</Text>
            {p.nack!.rule && (
              <Text size="sm">
                Rule: <Anchor href={`#/routes/${encodeURIComponent(p.nack!.rule)}`}>{p.nack!.rule}</Anchor>
              </Text>
            )}
          </Alert>
        ))}
      </Stack>
    </Card>
  );
}

const rulesLink = (names: string[]) =>
  names.map((r, i) => (
    <span key={r || '(none)'}>
      {i > 0 && ', '}
      {r ? <Anchor href={`#/routes/${encodeURIComponent(r)}`} size="sm">{r}</Anchor> : <Text span size="sm" c="dimmed">no rule</Text>}
    </span>
  ));

/** Which rules served the gateway's traffic over the window: the busiest, the failing, and those no request reached. */
function GatewayTraffic({ gateway, window }: { gateway: string; window: string }) {
  const traffic = useTraffic(gateway, window);
  if (traffic.isError) return <Text size="sm" c="dimmed">Traffic: unavailable.</Text>;
  if (!traffic.data) return <Text size="sm">Traffic: …</Text>;
  const s = trafficSummary(traffic.data);
  const logs = `#/logs?gateway=${encodeURIComponent(gateway)}`;
  return (
    <Stack gap={4} data-testid={`traffic-${gateway}`}>
      <Text size="sm">
        Requests: <b data-testid="traffic-requests">{s.requests.toLocaleString()}</b>
        {s.requests > 0 && <Text span size="sm" c={s.errorRate > 0 ? 'red' : 'dimmed'}> · {(s.errorRate * 100).toFixed(1)}% errors</Text>}
        <Anchor href={logs} size="sm" ml="xs">Request log</Anchor>
      </Text>
      {s.busiest.length > 0 && (
        <Table fz="sm" verticalSpacing={1} data-testid="busiest-rules">
          <Table.Tbody>
            {s.busiest.map((t) => (
              <Table.Tr key={t.rule || '(none)'}>
                <Table.Td>{rulesLink([t.rule ?? ''])}</Table.Td>
                <Table.Td ta="right">{(t.requests ?? 0).toLocaleString()}</Table.Td>
                <Table.Td ta="right" c={(t.errorRate ?? 0) > 0 ? 'red' : 'dimmed'}>{((t.errorRate ?? 0) * 100).toFixed(1)}%</Table.Td>
                <Table.Td ta="right" c="dimmed">p99 {t.p99Ms} ms</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {s.failing.length > 0 && (
        <Text size="sm" data-testid="failing-rules">
          <Text span c="red" fw={500} size="sm">Failing:</Text> {rulesLink(s.failing)}
        </Text>
      )}
      {s.idle.length > 0 && (
        <Text size="sm" data-testid="idle-rules">
          <Text span c="orange" fw={500} size="sm">No traffic{traffic.data.version ? ` (v${traffic.data.version})` : ''}:</Text> {rulesLink(s.idle.slice(0, 12))}
          {s.idle.length > 12 && <Text span size="sm" c="dimmed"> and {s.idle.length - 12} more</Text>}
        </Text>
      )}
    </Stack>
  );
}

const proxyStates: { key: keyof ProxySummary; label: string; color: string }[] = [
  { key: 'inSync', label: 'up to date', color: 'green' },
  { key: 'pending', label: 'updating', color: 'yellow' },
  { key: 'nack', label: 'NACK', color: 'red' },
  { key: 'gone', label: 'disconnected', color: 'gray' },
];

function ProxyCounts({ s }: { s: ProxySummary }) {
  const parts = proxyStates.filter((st) => s[st.key] > 0).map((st) => `${s[st.key]} ${st.label}`);
  return <b>{parts.join(' · ')}</b>;
}

/** The proxies as one bar, a segment per state. */
function ProxyBar({ s }: { s: ProxySummary }) {
  const total = s.inSync + s.pending + s.nack + s.gone;
  return (
    <Progress.Root size="md" mt={4} aria-label="Proxies by state" data-testid="proxy-bar">
      {proxyStates
        .filter((st) => s[st.key] > 0)
        .map((st) => (
          <Tooltip key={st.key} label={`${s[st.key]} ${st.label}`}>
            <Progress.Section value={(100 * s[st.key]) / total} color={st.color} />
          </Tooltip>
        ))}
    </Progress.Root>
  );
}

/** The latest writes to the draft, newest first, with who made them. */
function RecentChanges() {
  const revs = useRevisions();
  const latest = revs.data?.items.slice(0, 8) ?? [];
  return (
    <Card withBorder padding="md">
      <Group justify="space-between" mb="xs">
        <Text fw={600}>Recent changes</Text>
        <Anchor href="#/history" size="sm">History</Anchor>
      </Group>
      {revs.isError && <Text size="sm" c="dimmed">History unavailable.</Text>}
      {revs.data && latest.length === 0 && <Text size="sm" c="dimmed">Nothing has changed yet.</Text>}
      {latest.length > 0 && (
        <Table fz="sm" data-testid="recent-changes">
          <Table.Tbody>
            {latest.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td w={120} c="dimmed">{timeAgo(r.at)}</Table.Td>
                <Table.Td w={120}>{r.actor}</Table.Td>
                <Table.Td w={90}><Badge variant="light" color={r.action === 'delete' ? 'red' : r.action === 'create' ? 'green' : 'blue'}>{r.action}</Badge></Table.Td>
                <Table.Td className="mono">
                  {r.kind.toLowerCase()}/{r.kind === 'Route' && r.action !== 'delete' ? <Anchor href={`#/routes/${encodeURIComponent(r.name)}`} className="mono" fz="sm">{r.name}</Anchor> : r.name}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}
