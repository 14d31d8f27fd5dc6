import { AreaChart, LineChart } from '@mantine/charts';
import { Anchor, Card, Group, SegmentedControl, SimpleGrid, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { chartPoints, useTrafficSeries } from '../lib/requestLog';
import { noun } from '../lib/format';

const WINDOWS = [
  { value: '1h', label: '1 h' },
  { value: '6h', label: '6 h' },
  { value: '24h', label: '24 h' },
  { value: '168h', label: '7 d' },
];

/** A rule's traffic over time, from its per-minute rollups: requests, error rate and p99 latency. */
export function RuleTrafficCharts({ gateway, rule }: { gateway: string; rule: string }) {
  const [window, setWindow] = useState('1h');
  const series = useTrafficSeries(gateway, rule, window);
  const data = chartPoints(series.data);
  const total = data.reduce((n, p) => n + p.requests, 0);
  const logLink = `#/logs?gateway=${encodeURIComponent(gateway)}&rule=${encodeURIComponent(rule)}`;
  return (
    <Card withBorder padding="sm" data-testid="rule-traffic">
      <Group justify="space-between" mb={4}>
        <Group gap="xs">
          <Text fw={600} size="sm">Traffic</Text>
          <Text size="xs" c="dimmed" data-testid="rule-traffic-total">
            {series.isPending ? '…' : series.isError ? 'unavailable' : `${total.toLocaleString()} ${noun(total, 'request')} in the last ${WINDOWS.find((w) => w.value === window)?.label}`}
          </Text>
          <Anchor href={logLink} size="xs">Request log</Anchor>
        </Group>
        <SegmentedControl size="xs" value={window} onChange={setWindow} data={WINDOWS} aria-label="Traffic window" />
      </Group>
      {series.data && total === 0 ? (
        <Text size="sm" c="dimmed">No request reached this rule in this window.</Text>
      ) : (
        <SimpleGrid cols={{ base: 1, md: 3 }}>
          <Chart title="Requests">
            <AreaChart h={110} data={data} dataKey="time" series={[{ name: 'requests', color: 'indigo.6', label: 'requests' }]} withDots={false} curveType="step" gridAxis="none" tickLine="none" />
          </Chart>
          <Chart title="Error rate (%)">
            <LineChart h={110} data={data} dataKey="time" series={[{ name: 'errorRate', color: 'red.6', label: 'errors %' }]} withDots={false} gridAxis="none" tickLine="none" />
          </Chart>
          <Chart title="Latency p99 (ms)">
            <LineChart h={110} data={data} dataKey="time" series={[{ name: 'p99', color: 'teal.6', label: 'p99 ms' }]} withDots={false} connectNulls={false} gridAxis="none" tickLine="none" />
          </Chart>
        </SimpleGrid>
      )}
    </Card>
  );
}

function Chart({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed">{title}</Text>
      {children}
    </Stack>
  );
}
