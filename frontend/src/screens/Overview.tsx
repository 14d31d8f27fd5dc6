import { Alert, Anchor, Badge, Card, Group, Progress, SimpleGrid, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconAlertOctagon } from '@tabler/icons-react';
import { QueryState } from '../components/Loading';
import type { Gateway } from '../lib/model';
import { summarizeProxies, type ProxySummary } from '../lib/proxies';
import { useGateways, useLint, useProxies, usePublished, useRevisions, useRoutes } from '../lib/queries';
import { shortTypeUrl, timeAgo } from '../lib/format';

/**
 * The landing page: every gateway with its proxies at a glance, last
 * publish, rules that never match and any NACK; then what changed lately.
 */
export function Overview() {
  const gws = useGateways();
  const routes = useRoutes();
  return (
    <Stack>
      <Title order={3}>Overview</Title>
      <QueryState query={gws}>
        {(data) =>
          data.items.length === 0 ? (
            <Alert>No gateways yet. Apply a workspace file with <code>routedeck apply -f</code> to start.</Alert>
          ) : (
            <SimpleGrid cols={{ base: 1, md: 2 }}>
              {data.items.map((g) => (
                <GatewayCard key={g.name} gateway={g} routeCount={routes.data?.items.filter((r) => r.gateway === g.name).length} />
              ))}
            </SimpleGrid>
          )
        }
      </QueryState>
      <RecentChanges />
    </Stack>
  );
}

function GatewayCard({ gateway, routeCount }: { gateway: Gateway; routeCount?: number }) {
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
