import { Accordion, Alert, Badge, Button, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { IconEdit, IconPlus, IconSearch } from '@tabler/icons-react';
import { useCanEdit } from '../auth';
import { useState } from 'react';
import { ErrorNotice, DelayedLoader, QueryState } from '../components/Loading';
import type { Upstream } from '../lib/model';
import { plural } from '../lib/format';
import { endpointHealth } from '../lib/health';
import { useEndpoints, useUpstreams } from '../lib/queries';

/** Where an upstream's endpoints come from, in one line. */
export function sourceSummary(u: Upstream): { kind: string; text: string } {
  if (u.static) {
    const eps = u.static.endpoints;
    // A few endpoints fit on the line; more are counted.
    return { kind: 'static', text: eps.length > 0 && eps.length <= 3 ? eps.map((e) => `${e.address}:${e.port}`).join(', ') : plural(eps.length, 'endpoint') };
  }
  if (u.dns) return { kind: 'dns', text: `${u.dns.host}:${u.dns.port}` };
  if (u.kubernetes) return { kind: 'kubernetes', text: `${u.kubernetes.namespace}/${u.kubernetes.service}:${u.kubernetes.port}${u.kubernetes.context ? ` @${u.kubernetes.context}` : ''}` };
  if (u.consul) return { kind: 'consul', text: `${u.consul.service}${u.consul.tags?.length ? ` [${u.consul.tags.join(', ')}]` : ''}${u.consul.datacenter ? ` @${u.consul.datacenter}` : ''}` };
  return { kind: 'none', text: 'no source' };
}

const KIND_COLOR: Record<string, string> = { static: 'gray', dns: 'blue', kubernetes: 'indigo', consul: 'pink', none: 'red' };

/** Upstreams with their source and, when opened, their live endpoints and health. */
export function Upstreams() {
  const ups = useUpstreams();
  const [q, setQ] = useState('');
  // Only open panels poll their endpoints.
  const [open, setOpen] = useState<string[]>([]);
  const canEdit = useCanEdit();
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Upstreams</Title>
        {canEdit && <Button component="a" href="#/upstreams/new" leftSection={<IconPlus size={14} />}>New upstream</Button>}
      </Group>
      <TextInput placeholder="Search" leftSection={<IconSearch size={14} />} value={q} onChange={(e) => setQ(e.currentTarget.value)} w={280} aria-label="Search upstreams" />
      <QueryState query={ups}>
        {(data) => (
          <Accordion variant="separated" multiple value={open} onChange={setOpen}>
            {data.items
              .filter((u) => u.name.includes(q))
              .map((u) => {
                const s = sourceSummary(u);
                return (
                  <Accordion.Item key={u.name} value={u.name}>
                    <Accordion.Control data-upstream={u.name}>
                      <Group gap="sm">
                        <Text fw={600}>{u.name}</Text>
                        <Badge color={KIND_COLOR[s.kind]} variant="light">{s.kind}</Badge>
                        <Text size="sm" c="dimmed" className="mono">{s.text}</Text>
                        {u.protocol && u.protocol !== 'http1' && <Badge variant="outline">{u.protocol}</Badge>}
                        {u.circuitBreaker?.retryBudget && <Badge variant="outline" color="grape">retry budget {u.circuitBreaker.retryBudget.budgetPercent}%</Badge>}
                      </Group>
                    </Accordion.Control>
                    <Accordion.Panel>
                      <Group justify="flex-end" mb="xs">
                        <Button component="a" size="xs" variant="light" href={`#/upstreams/${encodeURIComponent(u.name)}`} leftSection={<IconEdit size={14} />} aria-label={`Edit upstream ${u.name}`}>
                          {canEdit ? 'Edit' : 'Details'}
                        </Button>
                      </Group>
                      {open.includes(u.name) && <EndpointTable name={u.name} hasHealthCheck={!!u.healthCheck} />}
                    </Accordion.Panel>
                  </Accordion.Item>
                );
              })}
          </Accordion>
        )}
      </QueryState>
    </Stack>
  );
}

function EndpointTable({ name, hasHealthCheck }: { name: string; hasHealthCheck: boolean }) {
  const eps = useEndpoints(name);
  if (eps.isPending) return <DelayedLoader />;
  if (eps.isError) return <ErrorNotice error={eps.error} title="Endpoints unavailable" />;
  const d = eps.data;
  const notice = (
    <>
      {d.error && <Alert color={d.stale ? 'yellow' : 'red'} p="xs" mb="xs">{d.source ?? 'Discovery'}: {d.error}{d.stale ? ' — showing the last known endpoints.' : ''}</Alert>}
      {d.reported === false && <Text size="sm" c="dimmed">Waiting for {d.source ?? 'discovery'} to answer…</Text>}
    </>
  );
  if (d.items.length === 0) {
    return (
      <div data-endpoints={name}>
        {notice}
        {d.reported !== false && <Text size="sm" c="orange">No endpoints: requests to this upstream fail with 503.</Text>}
      </div>
    );
  }
  return (
    <div data-endpoints={name}>
    {notice}
    <Table fz="sm" striped>
      <Table.Thead>
        <Table.Tr><Table.Th>Address</Table.Th><Table.Th>Port</Table.Th><Table.Th>Weight</Table.Th><Table.Th>Health</Table.Th><Table.Th>Source</Table.Th></Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {eps.data.items.map((e) => {
          const h = endpointHealth(e, hasHealthCheck);
          return (
            <Table.Tr key={`${e.address}:${e.port}`}>
              <Table.Td className="mono">{e.address}</Table.Td>
              <Table.Td>{e.port}</Table.Td>
              <Table.Td>{e.weight ?? 1}</Table.Td>
              <Table.Td>
                <Badge color={h.color} variant="light" title={h.title} data-health={h.label}>{h.label}</Badge>
                {e.stale && <Badge ml={4} color="yellow" variant="light" title="Discovery is unreachable; these are the last known endpoints">stale</Badge>}
              </Table.Td>
              <Table.Td>{e.source}</Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
    </div>
  );
}
