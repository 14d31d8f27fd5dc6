import { BarChart, DonutChart } from '@mantine/charts';
import { ActionIcon, Alert, Button, Card, ColorSwatch, Grid, Group, NumberInput, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useHotkeys } from '@mantine/hooks';
import { IconPlayerPlay, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { EndpointResultsView } from '../components/HostHealth';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { useCurrentGateway } from '../gateway';
import { ApiError } from '../lib/api';
import { overflowSummary, upstreamBehaviours, type ProfileRow } from '../lib/health';
import type { SimulationResult } from '../lib/model';
import { runSimulation, useUpstreams, type SimulationProfile } from '../lib/queries';

interface MixRow {
  method: string;
  url: string;
  weight: number;
  /** Request headers, so a header-based canary can be exercised. */
  headers: { name: string; value: string }[];
}

const newMixRow = (): MixRow => ({ method: 'GET', url: 'http://shop.example.com/', weight: 1, headers: [] });

/** The mix as the API takes it: headers without a name are left out. */
export function mixRequest(rows: MixRow[]) {
  return rows.map(({ headers, ...r }) => {
    const named = headers.filter((h) => h.name.trim());
    return named.length ? { ...r, headers: Object.fromEntries(named.map((h) => [h.name.trim(), h.value])) } : r;
  });
}

const COLORS = ['indigo.6', 'teal.6', 'orange.6', 'grape.6', 'cyan.6', 'pink.6', 'lime.6', 'yellow.6'];

/** N requests with a traffic mix against mock upstreams with latency and error profiles; charts of what happened. */
export default function TrafficSimulation() {
  const { gateway } = useCurrentGateway();
  const ups = useUpstreams();
  const [requests, setRequests] = useState<number | string>(1000);
  const [mix, setMix] = useState<MixRow[]>([newMixRow()]);
  const setRow = (i: number, patch: Partial<MixRow>) => setMix(mix.map((x, j) => (j === i ? { ...x, ...patch } : x)));
  const [profiles, setProfiles] = useState<ProfileRow[]>([]);
  const sim = useMutation({ mutationFn: (p: SimulationProfile) => runSimulation(p) });

  const run = () => {
    if (!gateway) return;
    sim.mutate({
      gateway,
      requests: Number(requests) || 100,
      mix: mixRequest(mix),
      upstreams: upstreamBehaviours(profiles),
    });
  };
  useHotkeys([['mod+Enter', run]], [], true);
  const notOffered = sim.error instanceof ApiError && (sim.error.status === 404 || sim.error.status === 501);

  return (
    <Stack maw={1200}>
      <Title order={3}>Traffic simulation</Title>
      <Grid>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Card withBorder>
            <Stack gap="sm">
              <NumberInput label="Requests" min={1} max={100000} value={requests} onChange={setRequests} w={160} />
              <Text size="sm" fw={500}>Traffic mix</Text>
              {mix.map((m, i) => (
                <Stack key={i} gap={4} data-testid="mix-row">
                  <Group gap="xs" wrap="nowrap">
                    <Select aria-label="Method" data={['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']} value={m.method} onChange={(v) => v && setRow(i, { method: v })} w={95} size="xs" />
                    <TextInput aria-label="URL" className="mono" value={m.url} onChange={(e) => setRow(i, { url: e.currentTarget.value })} style={{ flex: 1 }} size="xs" />
                    <NumberInput aria-label="Weight" min={0} value={m.weight} onChange={(v) => setRow(i, { weight: Number(v) || 0 })} w={70} size="xs" />
                    <ActionIcon variant="subtle" color="gray" aria-label="Remove" onClick={() => setMix(mix.filter((_, j) => j !== i))} disabled={mix.length === 1}><IconTrash size={14} /></ActionIcon>
                  </Group>
                  {m.headers.map((h, k) => (
                    <Group key={k} gap="xs" wrap="nowrap" ml={103} mr={36}>
                      <TextInput aria-label={`Header name ${i + 1}.${k + 1}`} placeholder="x-canary" className="mono" value={h.name} size="xs" w={150}
                        onChange={(e) => { const name = e.currentTarget.value; setRow(i, { headers: m.headers.map((x, j) => (j === k ? { ...x, name } : x)) }); }} />
                      <TextInput aria-label={`Header value ${i + 1}.${k + 1}`} placeholder="value" className="mono" value={h.value} size="xs" style={{ flex: 1 }}
                        onChange={(e) => { const value = e.currentTarget.value; setRow(i, { headers: m.headers.map((x, j) => (j === k ? { ...x, value } : x)) }); }} />
                      <ActionIcon variant="subtle" color="gray" aria-label={`Remove header ${i + 1}.${k + 1}`} onClick={() => setRow(i, { headers: m.headers.filter((_, j) => j !== k) })}><IconTrash size={14} /></ActionIcon>
                    </Group>
                  ))}
                  <Button ml={103} size="compact-xs" variant="subtle" w="fit-content" leftSection={<IconPlus size={12} />} aria-label={`Add header to request kind ${i + 1}`} onClick={() => setRow(i, { headers: [...m.headers, { name: '', value: '' }] })}>
                    Header
                  </Button>
                </Stack>
              ))}
              <Button size="compact-xs" variant="light" w="fit-content" leftSection={<IconPlus size={12} />} onClick={() => setMix([...mix, newMixRow()])}>Request kind</Button>
              <Text size="sm" fw={500}>Upstream behaviour</Text>
              {profiles.map((p, i) => (
                <Group key={i} gap="xs" wrap="nowrap">
                  <Select aria-label="Upstream" data={ups.data?.items.map((u) => u.name) ?? []} value={p.upstream || null} onChange={(v) => setProfiles(profiles.map((x, j) => (j === i ? { ...x, upstream: v ?? '' } : x)))} w={150} size="xs" searchable />
                  <NumberInput aria-label="Endpoint" title="Endpoint index (from 0); empty for every endpoint" placeholder="all" prefix="#" min={0} allowDecimal={false} value={p.endpoint} onChange={(v) => setProfiles(profiles.map((x, j) => (j === i ? { ...x, endpoint: v === '' ? '' : Number(v) } : x)))} w={70} size="xs" />
                  <NumberInput aria-label="Latency ms" suffix=" ms" min={0} value={p.latencyMs} onChange={(v) => setProfiles(profiles.map((x, j) => (j === i ? { ...x, latencyMs: Number(v) || 0 } : x)))} w={100} size="xs" />
                  <NumberInput aria-label="Error rate" suffix=" % 5xx" min={0} max={100} value={p.errorRate} onChange={(v) => setProfiles(profiles.map((x, j) => (j === i ? { ...x, errorRate: Number(v) || 0 } : x)))} w={110} size="xs" />
                  <ActionIcon variant="subtle" color="gray" aria-label="Remove" onClick={() => setProfiles(profiles.filter((_, j) => j !== i))}><IconTrash size={14} /></ActionIcon>
                </Group>
              ))}
              <Button size="compact-xs" variant="light" w="fit-content" leftSection={<IconPlus size={12} />} onClick={() => setProfiles([...profiles, { upstream: '', endpoint: '', latencyMs: 20, errorRate: 0 }])}>Upstream profile</Button>
              <Button leftSection={<IconPlayerPlay size={16} />} onClick={run} loading={sim.isPending} disabled={!gateway}>Run simulation</Button>
            </Stack>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          {sim.isPending && <DelayedLoader label="Simulating" />}
          {notOffered && <Alert>This server does not run traffic simulations yet.</Alert>}
          {sim.isError && !notOffered && <ErrorNotice error={sim.error} title="Simulation failed" />}
          {sim.data && <SimulationCharts result={sim.data} />}
          {sim.isIdle && <Alert variant="light">Describe the traffic and how upstreams behave, then run: the charts show the split per upstream, statuses, retries and latency — for instance how a retry budget stops a retry storm.</Alert>}
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

const fmtMs = (v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(1));

/** Split per upstream, status codes, retries, rate limiting and latency percentiles of one run. */
export function SimulationCharts({ result }: { result: SimulationResult }) {
  const perUpstream = Object.entries(result.perUpstream ?? {}).map(([upstream, count]) => ({ upstream, count }));
  const statuses = Object.entries(result.statuses ?? {}).map(([code, value], i) => ({
    name: code,
    value,
    color: code.startsWith('5') ? 'red.6' : code.startsWith('4') ? 'orange.5' : code.startsWith('3') ? 'blue.5' : COLORS[i % COLORS.length],
  }));
  const lat = result.latencyMs ?? { p50: 0, p90: 0, p99: 0 };
  const overflow = overflowSummary(result);
  return (
    <Stack data-testid="simulation-result">
      {result.timedOut && <Alert color="yellow">The run hit its time limit: {result.sent} of the requests were sent.</Alert>}
      <SimpleGrid cols={5}>
        <Card withBorder><Text size="xs" c="dimmed">Failed</Text><Text fw={700} size="xl" c={result.failed ? 'red' : undefined}>{result.failed ?? 0}</Text></Card>
        <Card withBorder><Text size="xs" c="dimmed">Retries</Text><Text fw={700} size="xl">{result.retries}</Text></Card>
        <Card withBorder><Text size="xs" c="dimmed">Rate limited</Text><Text fw={700} size="xl">{result.rateLimited}</Text></Card>
        <Card withBorder data-testid="overflowed"><Text size="xs" c="dimmed">Circuit breaker overflow (UO)</Text><Text fw={700} size="xl" c={result.overflowed ? 'red' : undefined}>{result.overflowed ?? 0}</Text></Card>
        <Card withBorder><Text size="xs" c="dimmed">Latency p50 / p90 / p99</Text><Text fw={700} size="lg">{fmtMs(lat.p50)} / {fmtMs(lat.p90)} / {fmtMs(lat.p99)} ms</Text></Card>
      </SimpleGrid>
      <Card withBorder>
        <Text fw={600} size="sm" mb="xs">Requests per upstream</Text>
        <BarChart h={220} data={perUpstream} dataKey="upstream" series={[{ name: 'count', color: 'indigo.6', label: 'requests' }]} withBarValueLabel valueFormatter={(v) => String(v)} data-testid="per-upstream-chart" />
      </Card>
      {(overflow.clusters.length > 0 || overflow.flags.length > 0) && (
        <Card withBorder data-testid="overflow-detail">
          <Text fw={600} size="sm" mb="xs">Response flags and overflow counters</Text>
          {overflow.flags.length > 0 && (
            <Group gap="md" mb="xs">
              {overflow.flags.map((f) => <Text key={f.flag} size="sm"><span className="mono">{f.flag}</span> <Text span c="dimmed">{f.count}</Text></Text>)}
            </Group>
          )}
          {overflow.clusters.map((c) => (
            <Text key={c.cluster} size="sm">
              <span className="mono">{c.cluster}</span>:{' '}
              {c.counters.map((k) => `${k.name} ${k.value}`).join(', ')}
            </Text>
          ))}
        </Card>
      )}
      {result.endpoints && result.endpoints.length > 0 && (
        <Card withBorder>
          <Text fw={600} size="sm" mb="xs">Endpoints</Text>
          <EndpointResultsView endpoints={result.endpoints} />
        </Card>
      )}
      <SimpleGrid cols={2}>
        <Card withBorder>
          <Text fw={600} size="sm" mb="xs">Status codes</Text>
          <Group align="center" wrap="nowrap">
            <DonutChart data={statuses} size={150} thickness={24} withTooltip chartLabel={`${statuses.reduce((a, b) => a + b.value, 0)}`} />
            <Stack gap={4}>
              {statuses.map((st) => (
                <Group key={st.name} gap={6} wrap="nowrap">
                  <ColorSwatch size={12} color={`var(--mantine-color-${st.color.replace('.', '-')})`} />
                  <Text size="sm" className="mono">{st.name}</Text>
                  <Text size="sm" c="dimmed">{st.value}</Text>
                </Group>
              ))}
            </Stack>
          </Group>
        </Card>
        <Card withBorder>
          <Text fw={600} size="sm" mb="xs">Latency (ms)</Text>
          <BarChart h={200} data={[{ p: 'p50', ms: lat.p50 }, { p: 'p90', ms: lat.p90 }, { p: 'p99', ms: lat.p99 }]} dataKey="p" series={[{ name: 'ms', color: 'teal.6' }]} withBarValueLabel valueFormatter={(v) => fmtMs(v)} />
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
