import { Alert, Anchor, Badge, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconAlertOctagon } from '@tabler/icons-react';
import { QueryState } from '../components/Loading';
import type { Gateway } from '../lib/model';
import { useGateways, useProxies, usePublished, useRoutes } from '../lib/queries';
import { shortTypeUrl, timeAgo } from '../lib/format';

/** The landing page: every gateway with its proxies, last publish and any NACK. */
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
    </Stack>
  );
}

function GatewayCard({ gateway, routeCount }: { gateway: Gateway; routeCount?: number }) {
  const proxies = useProxies(gateway.name);
  const published = usePublished(gateway.name);
  const items = proxies.data?.items ?? [];
  const connected = items.filter((p) => p.connected).length;
  const nacks = items.filter((p) => p.nack);
  return (
    <Card withBorder padding="md" data-testid={`gateway-${gateway.name}`}>
      <Group justify="space-between" mb="xs">
        <Text fw={600}>{gateway.name}</Text>
        <Group gap={4}>
          {(gateway.listeners ?? []).map((l) => (
            <Badge key={l.name} variant="light">{l.protocol} :{l.port}</Badge>
          ))}
        </Group>
      </Group>
      <Stack gap={4}>
        <Text size="sm">Routes: <b>{routeCount ?? '…'}</b></Text>
        <Text size="sm">
          Proxies: <b>{proxies.isError ? 'status unavailable' : proxies.isPending ? '…' : `${connected} connected`}</b>
          {items.length > connected && <Text span c="dimmed"> ({items.length - connected} gone)</Text>}
        </Text>
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
