import { Alert, Anchor, Badge, Button, Code, Drawer, Group, Loader, Select, Stack, Switch, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconAlertTriangle, IconPlayerPause, IconPlayerPlay } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { ErrorNotice } from '../components/Loading';
import { TraceView } from '../components/TraceView';
import { useCurrentGateway } from '../gateway';
import { friendlyMessage } from '../lib/api';
import type { TraceRule } from '../lib/model';
import { useRoutesAsTheyLoad } from '../lib/queries';
import {
  MAX_ROWS,
  STATUSES,
  WINDOWS,
  filtersFromSearch,
  followUrl,
  fullLogTrace,
  logTime,
  matchesFilters,
  mergeRows,
  statusColor,
  useLogExplanation,
  useLogPages,
  versionLabel,
  type LogEntry,
  type LogExplanation,
  type LogFilters,
} from '../lib/requestLog';
import { noun } from '../lib/format';

const ROW_HEIGHT = 32;
/** Older pages load when the reader comes this close to the end of what is loaded. */
const LOAD_AHEAD = 300;

/**
 * The requests a gateway's proxies served, newest first: filters, live
 * follow, and for every request the explanation of the rule that took it
 * (or, for a 404, the rules that nearly did).
 */
export default function RequestLog() {
  const { gateway, setGateway } = useCurrentGateway();
  const [search, setSearch] = useSearchParams();
  // A link may name the gateway (?gateway=) and filters (?rule=, ?status=).
  const linked = search.get('gateway');
  useEffect(() => {
    if (linked && linked !== gateway) setGateway(linked);
  }, [linked, gateway, setGateway]);
  const [filters, setFilters] = useState<LogFilters>(() => filtersFromSearch(search));
  const [debounced] = useDebouncedValue(filters, 250);
  const [follow, setFollow] = useState(true);
  const [open, setOpen] = useState<LogEntry | null>(null);
  const gw = linked ?? gateway;

  const setFilter = (k: keyof LogFilters, v: string) => {
    setFilters((f) => ({ ...f, [k]: v }));
    const next = new URLSearchParams(search);
    if (v) next.set(k, v);
    else next.delete(k);
    setSearch(next, { replace: true });
  };

  const routes = useRoutesAsTheyLoad();
  const ruleNames = useMemo(
    () => (routes.data?.items ?? []).filter((r) => r.gateway === gw).map((r) => r.name).sort(),
    [routes.data, gw],
  );

  return (
    <Stack h="calc(100vh - 52px - 2 * var(--mantine-spacing-md))" gap="sm">
      <Group justify="space-between">
        <Title order={3}>Request log{gw ? ` — ${gw}` : ''}</Title>
        <Switch
          checked={follow}
          onChange={(e) => setFollow(e.currentTarget.checked)}
          label={follow ? 'Following new requests' : 'Paused'}
          thumbIcon={follow ? <IconPlayerPlay size={10} /> : <IconPlayerPause size={10} />}
          aria-label="Follow new requests"
        />
      </Group>
      <Group gap="sm">
        <Select
          placeholder="Any rule"
          aria-label="Filter by rule"
          clearable
          searchable
          limit={200}
          data={ruleNames}
          value={filters.rule || null}
          onChange={(v) => setFilter('rule', v ?? '')}
          w={220}
        />
        <Select aria-label="Filter by status" data={STATUSES} value={filters.status} onChange={(v) => setFilter('status', v ?? '')} w={130} allowDeselect={false} />
        <TextInput placeholder="Host" aria-label="Filter by host" value={filters.host} onChange={(e) => setFilter('host', e.currentTarget.value)} w={200} />
        <TextInput placeholder="Path prefix" aria-label="Filter by path" value={filters.path} onChange={(e) => setFilter('path', e.currentTarget.value)} w={200} />
        <Select aria-label="Time window" data={WINDOWS} value={filters.window} onChange={(v) => setFilter('window', v ?? '')} w={170} allowDeselect={false} />
      </Group>
      {gw ? <LogList key={`${gw}\n${JSON.stringify(debounced)}`} gateway={gw} filters={debounced} follow={follow} onOpen={setOpen} /> : <Alert>No gateway yet.</Alert>}
      <Drawer opened={!!open} onClose={() => setOpen(null)} position="right" size="xl" title={open ? `Request ${open.id}` : ''}>
        {open && gw && <ExplainEntry gateway={gw} entry={open} />}
      </Drawer>
    </Stack>
  );
}

/** The list for one gateway and one set of filters (remounted when they change). */
function LogList({ gateway, filters, follow, onOpen }: { gateway: string; filters: LogFilters; follow: boolean; onOpen: (e: LogEntry) => void }) {
  // The window's start is fixed when the filters are: every page of the listing covers the same span.
  const [since] = useState(() => Date.now());
  const pages = useLogPages(gateway, filters, since);
  const [live, setLive] = useState<LogEntry[]>([]);
  const [streamDown, setStreamDown] = useState(false);

  // The stream opens once the first page is in, after its newest entry
  // (none when the listing is empty: then from what arrives next).
  const firstPage = pages.data?.pages[0];
  const newestListed = firstPage ? (firstPage.items[0]?.id ?? null) : undefined;
  useEffect(() => {
    if (!follow || newestListed === undefined) return;
    // A resumed stream sends again what came since the listing.
    setLive([]);
    // EventSource resumes by itself after a drop, with Last-Event-ID.
    const es = new EventSource(followUrl(gateway, filters, newestListed ?? undefined));
    let buffered: LogEntry[] = [];
    es.addEventListener('entry', (ev) => {
      const e = JSON.parse((ev as MessageEvent<string>).data) as LogEntry;
      if (matchesFilters(e, filters)) buffered.push(e);
    });
    es.onopen = () => setStreamDown(false);
    es.onerror = () => setStreamDown(es.readyState !== EventSource.OPEN);
    // A busy gateway sends hundreds of entries a second: the list takes
    // them a few times a second, not one render each.
    const flush = window.setInterval(() => {
      if (buffered.length === 0) return;
      const batch = buffered.reverse();
      buffered = [];
      setLive((prev) => (batch.length + prev.length > MAX_ROWS ? batch.concat(prev).slice(0, MAX_ROWS) : batch.concat(prev)));
    }, 300);
    return () => {
      es.close();
      window.clearInterval(flush);
    };
  }, [gateway, filters, follow, newestListed]);

  const listed = useMemo(() => pages.data?.pages.flatMap((p) => p.items) ?? [], [pages.data]);
  const rows = useMemo(() => mergeRows(live, listed), [live, listed]);
  const parentRef = useRef<HTMLDivElement>(null);
  const virt = useVirtualizer({ count: rows.length, getScrollElement: () => parentRef.current, estimateSize: () => ROW_HEIGHT, overscan: 20 });
  const items = virt.getVirtualItems();
  const lastShown = items.length > 0 ? items[items.length - 1].index : 0;
  const full = rows.length >= MAX_ROWS;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = pages;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && !full && lastShown >= rows.length - LOAD_AHEAD) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, full, lastShown, rows.length, fetchNextPage]);

  if (pages.isError) return <ErrorNotice error={pages.error} />;
  return (
    <Stack gap={4} style={{ flex: 1, minHeight: 0 }}>
      <div className="log-row route-head" role="row" style={{ height: 30, cursor: 'default' }}>
        {['Time', 'Status', 'Method', 'Host', 'Path', 'Rule', 'Version', 'Duration', 'Upstream', ''].map((h, i) => (
          <div key={i} role="columnheader">{h}</div>
        ))}
      </div>
      <div ref={parentRef} style={{ flex: 1, overflow: 'auto' }} data-testid="log-scroller" role="table" aria-label="Requests">
        {pages.isPending && <Group p="md"><Loader size="sm" /><Text c="dimmed">Loading requests…</Text></Group>}
        {!pages.isPending && rows.length === 0 && (
          <Text c="dimmed" p="md" data-testid="log-empty">
            No requests {filters.rule || filters.status || filters.host || filters.path ? 'match these filters' : 'yet'}
            {follow ? ': new ones appear here as the proxies report them.' : '.'}
          </Text>
        )}
        <div style={{ height: virt.getTotalSize(), position: 'relative' }}>
          {items.map((v) => {
            const e = rows[v.index];
            return (
              <div
                key={e.id}
                className="log-row"
                role="row"
                tabIndex={0}
                data-entry={e.id}
                data-status={e.status}
                style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${v.start}px)` }}
                onClick={() => onOpen(e)}
                onKeyDown={(k) => k.key === 'Enter' && onOpen(e)}
              >
                {/* Plain elements: a frame of scrolling renders forty of these rows. */}
                <div role="cell" className="mono ellipsis">{logTime(e.time)}</div>
                <div role="cell"><span className={`log-status log-status-${statusColor(e.status)}`}>{e.status || '—'}</span></div>
                <div role="cell" className="ellipsis">{e.method}</div>
                <div role="cell" className="ellipsis" title={e.host}>{e.host}</div>
                <div role="cell" className="mono ellipsis" title={e.originalPath ? `${e.path} (rewritten from ${e.originalPath})` : e.path}>
                  {e.path}
                  {e.originalPath && <span className="log-dim"> ← {e.originalPath}</span>}
                </div>
                <div role="cell" className="ellipsis">{e.rule ? e.rule : <span className="log-dim">no rule</span>}</div>
                <div role="cell" className="ellipsis">{versionLabel(e.version)}</div>
                <div role="cell" style={{ textAlign: 'right' }}>{(e.durationMs ?? 0).toFixed(1)} ms</div>
                <div role="cell" className="ellipsis" title={e.responseFlags}>
                  {e.upstreamCluster || '—'}
                  {e.responseFlags && <span className="log-flags"> {e.responseFlags}</span>}
                </div>
                <div role="cell">
                  <button type="button" className="log-explain" aria-label={`Explain request ${e.id}`}>Explain</button>
                </div>
              </div>
            );
          })}
        </div>
      </div>
      <Group gap="xs" data-testid="log-status">
        <Text size="xs" c="dimmed" data-testid="log-count" data-count={rows.length}>
          {rows.length.toLocaleString()} {noun(rows.length, 'request')}{live.length > 0 ? ` (${live.length.toLocaleString()} live)` : ''}
          {full ? ` — the newest ${MAX_ROWS.toLocaleString()}; narrow the filters to see older ones` : hasNextPage ? ' — older ones load as you scroll' : ''}
        </Text>
        {isFetchingNextPage && <Loader size={12} />}
        {follow && streamDown && <Text size="xs" c="orange">live stream interrupted, reconnecting…</Text>}
      </Group>
    </Stack>
  );
}

/** One request: what the proxy reported, and the rules' explanation against the version that served it. */
function ExplainEntry({ gateway, entry }: { gateway: string; entry: LogEntry }) {
  const ex = useLogExplanation(gateway, entry.id);
  const full = useMutation({ mutationFn: () => fullLogTrace(gateway, entry.id) });
  return (
    <Stack gap="sm" data-testid="explain">
      <Table fz="sm" withRowBorders={false} verticalSpacing={2}>
        <Table.Tbody>
          <Row label="Request"><Code>{entry.method} {entry.scheme ? `${entry.scheme}://` : ''}{entry.host}{entry.path}</Code></Row>
          {entry.originalPath && <Row label="Path before rewrite"><Code>{entry.originalPath}</Code></Row>}
          <Row label="Response">
            <Badge variant="light" color={statusColor(entry.status)}>{entry.status || 'no response'}</Badge> in {(entry.durationMs ?? 0).toFixed(1)} ms
            {entry.responseFlags && <Text span c="red" size="sm" ml="xs">flags {entry.responseFlags}</Text>}
            {entry.responseDetails && <Text span c="dimmed" size="sm" ml="xs">{entry.responseDetails}</Text>}
          </Row>
          <Row label="Served by">
            {entry.rule ? <Anchor href={`#/routes/${encodeURIComponent(entry.rule)}`}>{entry.rule}</Anchor> : <Text span c="orange">no rule</Text>}
            {' '}with {versionLabel(entry.version)} on {entry.node}
          </Row>
          {entry.upstreamCluster && <Row label="Upstream">{entry.upstreamCluster}{entry.upstreamHost ? ` (${entry.upstreamHost})` : ''}</Row>}
          <Row label="When">{new Date(entry.time).toLocaleString()}</Row>
          {entry.headers && Object.keys(entry.headers).length > 0 && (
            <Row label="Kept headers">
              <Stack gap={0}>
                {Object.entries(entry.headers).map(([k, v]) => <Text key={k} size="xs" className="mono">{k}: {v}</Text>)}
              </Stack>
            </Row>
          )}
        </Table.Tbody>
      </Table>
      {ex.isPending && <Group><Loader size="sm" /><Text c="dimmed">Explaining…</Text></Group>}
      {ex.isError && <Alert color="red">{friendlyMessage(ex.error)}</Alert>}
      {ex.data && <Explanation ex={ex.data} />}
      {ex.data && (
        full.data ? (
          <Stack gap={4}>
            <Text fw={600} size="sm">Every rule tried, in order{full.data.traceNext ? ' (the first 500)' : ''}</Text>
            <TraceView trace={(full.data.trace ?? []) as TraceRule[]} winner={full.data.rule ?? null} />
          </Stack>
        ) : (
          <Button variant="default" size="xs" onClick={() => full.mutate()} loading={full.isPending} w="fit-content">
            Show every rule tried ({(ex.data.tried ?? 0) + (ex.data.rule ? 1 : 0)})
          </Button>
        )
      )}
    </Stack>
  );
}

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <Table.Tr>
      <Table.Td w={150} c="dimmed">{label}</Table.Td>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}

/** The explanation: notes first (what to trust), then the winner or, for a 404, the near misses. */
function Explanation({ ex }: { ex: LogExplanation }) {
  const tried = ex.tried ?? 0;
  const winner = ex.winner as TraceRule | null | undefined;
  const near = (ex.nearMisses ?? []) as TraceRule[];
  return (
    <Stack gap="xs">
      <Group gap="xs">
        <Text fw={600}>Explained against {ex.version}</Text>
        {ex.agrees ? (
          <Badge color="green" variant="light">agrees with the proxy</Badge>
        ) : (
          <Badge color="orange" variant="light" leftSection={<IconAlertTriangle size={12} />}>differs from the proxy</Badge>
        )}
      </Group>
      {ex.notes.map((n, i) => (
        <Alert key={i} color={ex.agrees ? 'blue' : 'orange'} p="xs" data-testid="explain-note">
          <Text size="sm">{n}</Text>
        </Alert>
      ))}
      {ex.rule ? (
        <Text size="sm">
          Rule <b>{ex.rule}</b> takes this request{tried > 0 ? ` after ${tried} rule${tried === 1 ? '' : 's'} that did not match` : ''}.
        </Text>
      ) : (
        <Text size="sm" data-testid="explain-404">
          No rule takes this request ({tried} tried): the gateway's default response answers.{' '}
          {near.length > 0 ? 'These rules failed only one condition:' : 'No rule came within one condition of it.'}
        </Text>
      )}
      {(winner || near.length > 0) && <TraceView trace={winner ? [winner, ...near] : near} winner={ex.rule ?? null} />}
      {!ex.rule && near.length === 0 && (ex.before ?? []).length > 0 && (
        <Table fz="xs">
          <Table.Tbody>
            {(ex.before ?? []).map((b) => (
              <Table.Tr key={b.rule}>
                <Table.Td>{b.rule}</Table.Td>
                <Table.Td className="mono" c="red.7">{b.skipped ? `skipped: ${b.skipped}` : b.firstFailing}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Tooltip label="The request is rebuilt from the log entry: headers the gateway does not keep are unknown to the evaluator." multiline w={300}>
        <Text size="xs" c="dimmed" w="fit-content">How is this worked out?</Text>
      </Tooltip>
    </Stack>
  );
}
