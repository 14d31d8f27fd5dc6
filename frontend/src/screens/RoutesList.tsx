import { Badge, Button, Group, Progress, Select, Stack, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconPlus, IconSearch } from '@tabler/icons-react';
import { createColumnHelper, flexRender, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { createContext, useContext, useMemo, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { useCanEdit } from '../auth';
import { QueryState } from '../components/Loading';
import type { Route } from '../lib/model';
import { lintKey, useGateways, useLints, useRoutesAsTheyLoad, useUpstreams, type LintFinding, witnessText } from '../lib/queries';
import { actionSummary, byPriority, routeHosts, routeUpstreams, whenText } from '../lib/routeInfo';
import { plural } from '../lib/format';

// The lint findings of every gateway, by lintKey. A context rather than a
// column dependency: the columns stay module constants and a lint refetch
// re-renders only the badges.
const LintContext = createContext<Map<string, LintFinding>>(new Map());

/** The yellow badge of a rule that never matches, with the reason on hover. */
function ShadowedBadge({ route }: { route: Route }) {
  const f = useContext(LintContext).get(lintKey(route.gateway, route.name));
  if (!f) return null;
  return (
    <Tooltip label={f.witness ? `${f.message} For example ${witnessText(f.witness)} is taken by ${f.witness.takenBy ?? f.shadowedBy}.` : f.message} multiline maw={360} withArrow>
      <Badge size="xs" color="yellow" data-testid="shadowed-badge" style={{ flexShrink: 0 }}>shadowed</Badge>
    </Tooltip>
  );
}

const col = createColumnHelper<Route>();
const columns = [
  col.accessor((r) => r.priority ?? 0, { id: 'priority', header: 'Priority', cell: (c) => <Text size="sm" ta="right" pr="md">{c.getValue()}</Text> }),
  col.accessor('name', {
    header: 'Name',
    cell: (c) => (
      <Group gap={4} wrap="nowrap">
        <Text size="sm" fw={500} className="ellipsis">{c.getValue()}</Text>
        {c.row.original.disabled && <Badge size="xs" color="gray">off</Badge>}
        <ShadowedBadge route={c.row.original} />
      </Group>
    ),
  }),
  col.accessor('gateway', { header: 'Gateway', cell: (c) => <Text size="sm">{c.getValue()}</Text> }),
  col.accessor((r) => whenText(r), { id: 'when', header: 'When', cell: (c) => <Text size="xs" className="mono ellipsis">{c.getValue() || 'always'}</Text> }),
  col.accessor((r) => actionSummary(r), { id: 'then', header: 'Then', cell: (c) => <Text size="sm" className="ellipsis">{c.getValue()}</Text> }),
];

const ROW_HEIGHT = 40;

/** Every route, in the order the gateways try them, with search and filters. */
export function RoutesList() {
  const routes = useRoutesAsTheyLoad();
  const gws = useGateways();
  const ups = useUpstreams();
  const canEdit = useCanEdit();
  const nav = useNavigate();
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search, 150);
  const [gateway, setGateway] = useState<string | null>(null);
  const [upstream, setUpstream] = useState<string | null>(null);
  const [host, setHost] = useState('');
  const gatewayNames = useMemo(() => gws.data?.items.map((g) => g.name) ?? [], [gws.data]);
  // Lint badges wait for the whole list: linting a large gateway costs the
  // server more than a page of routes, and the rows matter first.
  const lints = useLints(routes.data?.complete ? gatewayNames : []);

  return (
    <LintContext.Provider value={lints}>
      <Stack h="calc(100vh - 52px - 2 * var(--mantine-spacing-md))" gap="sm">
        <Group justify="space-between">
          <Title order={3}>Routes</Title>
          {canEdit && <Button leftSection={<IconPlus size={16} />} onClick={() => nav('/routes/new')}>New route</Button>}
        </Group>
        <Group>
          <TextInput
            placeholder="Search name or condition"
            leftSection={<IconSearch size={14} />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            w={280}
            aria-label="Search routes"
          />
          <Select placeholder="Gateway" clearable data={gatewayNames} value={gateway} onChange={setGateway} w={160} aria-label="Filter by gateway" />
          <Select placeholder="Upstream" clearable searchable data={ups.data?.items.map((u) => u.name) ?? []} value={upstream} onChange={setUpstream} w={180} aria-label="Filter by upstream" />
          <TextInput placeholder="Host" value={host} onChange={(e) => setHost(e.currentTarget.value)} w={180} aria-label="Filter by host" />
        </Group>
        <QueryState query={routes}>
          {(data) => (
            <RouteTable
              routes={data.items}
              loading={data.complete ? undefined : { loaded: data.items.length, total: data.total ?? 0 }}
              filter={{ q, gateway, upstream, host }}
              onOpen={(r) => nav(`/routes/${encodeURIComponent(r.name)}`)}
            />
          )}
        </QueryState>
      </Stack>
    </LintContext.Provider>
  );
}

interface Filter {
  q: string;
  gateway: string | null;
  upstream: string | null;
  host: string;
}

function RouteTable({ routes, loading, filter, onOpen }: { routes: Route[]; loading?: { loaded: number; total: number }; filter: Filter; onOpen: (r: Route) => void }) {
  const rows = useMemo(() => {
    const q = filter.q.toLowerCase();
    const host = filter.host.toLowerCase();
    return routes
      .filter((r) => !filter.gateway || r.gateway === filter.gateway)
      .filter((r) => !filter.upstream || routeUpstreams(r).includes(filter.upstream))
      .filter((r) => !host || routeHosts(r).some((h) => h.toLowerCase().includes(host)) || whenText(r).toLowerCase().includes(host))
      .filter((r) => !q || r.name.toLowerCase().includes(q) || whenText(r).toLowerCase().includes(q))
      .sort(byPriority);
  }, [routes, filter]);
  const table = useReactTable({ data: rows, columns, getCoreRowModel: getCoreRowModel() });
  const parentRef = useRef<HTMLDivElement>(null);
  const virt = useVirtualizer({ count: rows.length, getScrollElement: () => parentRef.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });
  const tableRows = table.getRowModel().rows;

  return (
    <Stack gap={4} style={{ flex: 1, minHeight: 0 }}>
      <div className="route-row route-head" style={{ height: 32, cursor: 'default' }} role="row">
        {table.getHeaderGroups()[0].headers.map((h) => (
          <div key={h.id} role="columnheader">{flexRender(h.column.columnDef.header, h.getContext())}</div>
        ))}
      </div>
      <div ref={parentRef} style={{ flex: 1, overflow: 'auto' }} data-testid="routes-scroller" role="table" aria-label="Routes">
        {rows.length === 0 && <Text c="dimmed" p="md">No routes match.</Text>}
        <div style={{ height: virt.getTotalSize(), position: 'relative' }}>
          {virt.getVirtualItems().map((v) => {
            const row = tableRows[v.index];
            return (
              <div
                key={row.id}
                className="route-row"
                role="row"
                tabIndex={0}
                data-route={row.original.name}
                style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${v.start}px)` }}
                onClick={() => onOpen(row.original)}
                onKeyDown={(e) => e.key === 'Enter' && onOpen(row.original)}
              >
                {row.getVisibleCells().map((c) => (
                  <div key={c.id} role="cell" className="ellipsis">{flexRender(c.column.columnDef.cell, c.getContext())}</div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
      {loading ? (
        <Group gap="xs" data-testid="routes-loading">
          <Progress value={(100 * loading.loaded) / Math.max(loading.total, 1)} w={160} size="sm" aria-label="Routes loaded" />
          <Text size="xs" c="dimmed">loading routes: {loading.loaded.toLocaleString()} of {loading.total.toLocaleString()}</Text>
        </Group>
      ) : (
        <Text size="xs" c="dimmed">{rows.length} of {plural(routes.length, 'route')}</Text>
      )}
    </Stack>
  );
}
