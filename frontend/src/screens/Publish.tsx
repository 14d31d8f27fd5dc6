import { Accordion, Alert, Badge, Button, Card, Checkbox, Group, ScrollArea, Stack, Table, Text, Title } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconCloudUpload } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useCanEdit, useMe } from '../auth';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { useCurrentGateway } from '../gateway';
import { ApiError, friendlyMessage, get, post, seg } from '../lib/api';
import { shortTypeUrl } from '../lib/format';
import { diffLines } from '../lib/diff';
import { keys, useGateways, useProxies, usePublished, usePublishedVersion, useRoutes, useSecrets, useUpstreams, type LintFinding, type LintNote } from '../lib/queries';
import { draftWorkspace, workspaceChanges, type ObjectChange } from '../lib/workspaceDiff';
import type { ProxyStatus } from '../lib/model';
import { DiffView } from '../components/DiffView';
import { TrafficChange, type PublishCheck } from '../components/TrafficChange';
import { TestResults, useRunTests } from './RouteTests';

const CHANGE_COLOR: Record<string, string> = { added: 'green', removed: 'red', changed: 'blue' };

/** How proxies reach this server's ADS (GET /server). */
interface ServerInfo {
  ads?: { listen: string; address: string; plaintext: boolean; sandboxOnly: boolean; serverNames: string[] };
}

interface PublishResult {
  version: number;
  /** The draft equals the live version: nothing new was published. */
  unchanged?: boolean;
  warnings?: LintFinding[];
  notes?: LintNote[];
  /** The gateway is too large to lint on the publish's path: warnings and notes are not in this answer. */
  lintPending?: boolean;
}

/** How many changed objects the change list shows before "Show all". */
const CHANGES_SHOWN = 100;

/** How long the publish screen waits for the lint of a large gateway before it stops watching. */
const LINT_WAIT_MS = 120_000;

/** Shows a lint report's shadowed rules and notes; says so when there are none and quiet is false. */
function showLint(gateway: string, warnings: LintFinding[] | undefined, notes: LintNote[] | undefined, quiet: boolean) {
  // Shadowed rules do not stop a publish, but they are dead weight worth a look.
  if (warnings?.length) {
    notifications.show({
      color: 'yellow',
      title: `${warnings.length} rule${warnings.length === 1 ? '' : 's'} never match`,
      message: warnings.map((w) => `${w.rule}: ${w.message}`).join('\n'),
      autoClose: 15_000,
    });
  }
  if (notes?.length) {
    notifications.show({
      color: 'yellow',
      title: `Worth knowing about ${notes.length} rule${notes.length === 1 ? '' : 's'}`,
      message: notes.map((n) => `${n.rule}: ${n.message}`).join('\n'),
      autoClose: 15_000,
    });
  }
  if (!quiet && !warnings?.length && !notes?.length) {
    notifications.show({ color: 'green', title: 'Lint finished', message: `Every rule of ${gateway} can match.`, autoClose: 6_000 });
  }
}

/** Asks before publishing, listing what goes live. */
function confirmPublish(
  gateway: string,
  liveVersion: number | undefined,
  changes: ObjectChange[],
  force: boolean,
  overrideGate: boolean,
  summary: string | undefined,
  onConfirm: () => void,
) {
  modals.openConfirmModal({
    title: `Publish to ${gateway}?`,
    children: (
      <Stack gap="xs" data-testid="publish-confirm">
        <Text size="sm">
          {liveVersion ? `Against version ${liveVersion}, which is live now, ` : 'Nothing is live yet; '}
          {changes.length === 1 ? 'this object changes' : `these ${changes.length} objects change`}. Every proxy of {gateway} gets the new configuration.
        </Text>
        <ScrollArea.Autosize mah={260}>
          <Stack gap={4}>
            {changes.slice(0, CHANGES_SHOWN).map((c) => (
              <Group key={`${c.kind}/${c.name}`} gap="xs" wrap="nowrap">
                <Badge size="sm" color={CHANGE_COLOR[c.change]} miw={74}>{c.change}</Badge>
                <Text size="sm" className="mono">{c.kind.toLowerCase()}/{c.name}</Text>
              </Group>
            ))}
            {changes.length > CHANGES_SHOWN && <Text size="sm" c="dimmed">and {changes.length - CHANGES_SHOWN} more</Text>}
          </Stack>
        </ScrollArea.Autosize>
        {summary && <Text size="sm" fw={600}>{summary}.</Text>}
        {force && <Alert color="orange" p="xs">Route tests are skipped for this publish.</Alert>}
        {overrideGate && <Alert color="red" p="xs">The publish gate is overridden for this publish; the audit log records it.</Alert>}
      </Stack>
    ),
    labels: { confirm: 'Publish', cancel: 'Cancel' },
    onConfirm,
  });
}

/** Diff against what is live, run the tests, push, then watch every proxy ACK or NACK. */
export default function Publish() {
  const { gateway } = useCurrentGateway();
  const me = useMe();
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const published = usePublished(gateway);
  const [watching, setWatching] = useState(false);
  const proxies = useProxies(gateway, watching);
  const tests = useRunTests();
  // Where proxies reach this server's ADS, for the hint below (servers without GET /server leave it out).
  const server = useQuery({ queryKey: ['server'], queryFn: () => get<ServerInfo>('/server'), retry: false, staleTime: Infinity });
  const [force, setForce] = useState(false);
  const [overrideGate, setOverrideGate] = useState(false);

  const live = published.data?.[0];
  const liveVersion = usePublishedVersion(gateway, live?.version);
  const gws = useGateways();
  const routes = useRoutes();
  const ups = useUpstreams();
  const secrets = useSecrets();
  const draftQueries = [gws, routes, ups, secrets];
  // Live against draft, object by object; with nothing published yet every
  // object of the draft is new.
  const changes = useMemo(() => {
    if (!gateway || !gws.data || !routes.data || !ups.data || !secrets.data) return null;
    if (live && !liveVersion.data) return null;
    const draft = draftWorkspace(gateway, { gateways: gws.data.items, routes: routes.data.items, upstreams: ups.data.items, secrets: secrets.data.items });
    return workspaceChanges(liveVersion.data?.workspace ?? {}, draft);
  }, [gateway, live, liveVersion.data, gws.data, routes.data, ups.data, secrets.data]);

  // The draft as its objects' versions: the replay below runs again when it moves.
  const draftVersion = useMemo(
    () => [gws.data, routes.data, ups.data].map((l) => l?.items.map((o) => `${o.name}@${o.version}`).join(',')).join('|'),
    [gws.data, routes.data, ups.data],
  );
  const check = useQuery({
    queryKey: ['gateways', gateway ?? '', 'publish-check', live?.version ?? 0, draftVersion],
    queryFn: () => post<PublishCheck>(`/gateways/${seg(gateway!)}/publish/check`, {}),
    enabled: !!gateway && published.isSuccess && !!gws.data && !!routes.data && !!ups.data,
    staleTime: Infinity,
    retry: false,
  });

  const publish = useMutation({
    mutationFn: () =>
      post<PublishResult>(`/gateways/${seg(gateway!)}/publish`, { ...(force ? { force: true } : {}), ...(overrideGate ? { overrideGate: true } : {}) }),
    onSuccess: (res) => {
      // Skipping the tests or the gate is a choice for one publish, never a standing setting.
      setForce(false);
      setOverrideGate(false);
      if (res.unchanged) {
        notifications.show({ color: 'gray', title: 'Nothing to publish', message: `The draft is the same as version ${res.version}, which stays live.` });
        qc.invalidateQueries({ queryKey: keys.published(gateway!) });
        return;
      }
      notifications.show({ color: 'green', title: 'Published', message: `Version ${res.version} is being pushed to the proxies of ${gateway}.` });
      if (!res.lintPending) {
        showLint(gateway!, res.warnings, res.notes, true);
      } else {
        // Too large to lint on the publish's path: GET .../lint lints it and
        // answers when it is done, so its answer is the event to wait for.
        const id = `lint-${gateway}-${res.version}`;
        const gw = gateway!;
        notifications.show({
          id,
          loading: true,
          autoClose: false,
          withCloseButton: false,
          title: 'Checking for rules that never match',
          message: `${gw} is large, so its lint runs after the publish; the result shows here.`,
        });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the lint took longer than ${LINT_WAIT_MS / 1000} s; the Routes list shows it once done`)), LINT_WAIT_MS);
        });
        Promise.race([
          qc.fetchQuery({
            queryKey: keys.lint(gw),
            queryFn: () => get<{ items: LintFinding[]; notes?: LintNote[] }>(`/gateways/${seg(gw)}/lint`),
          }),
          timeout,
        ])
          .then((report) => {
            notifications.hide(id);
            showLint(gw, report.items, report.notes, false);
          })
          .catch((err: unknown) => {
            notifications.update({
              id,
              loading: false,
              color: 'red',
              autoClose: 15_000,
              withCloseButton: true,
              title: 'Lint did not finish',
              message: friendlyMessage(err),
            });
          })
          .finally(() => clearTimeout(timer));
      }
      setWatching(true);
      setTimeout(() => setWatching(false), 60_000);
      qc.invalidateQueries({ queryKey: keys.published(gateway!) });
      qc.invalidateQueries({ queryKey: keys.proxies(gateway!) });
      qc.invalidateQueries({ queryKey: keys.revisions });
      qc.invalidateQueries({ queryKey: keys.secrets });
    },
  });

  // The change list's open items; null until the user opens or closes one (a short list starts open).
  const [openChanges, setOpenChanges] = useState<string[] | null>(null);
  const open = openChanges ?? (changes && changes.length <= 3 ? changes.map((c) => `${c.kind}/${c.name}`) : []);
  // A first publish of a large gateway changes thousands of objects: the
  // list shows the first ones until asked for all.
  const [showAll, setShowAll] = useState(false);

  if (!gateway) return <Alert>Pick a gateway first.</Alert>;
  // Only when the comparison is complete: a draft still loading is not "unchanged".
  const nothingToPublish = !!live && changes !== null && changes.length === 0;
  const gateBlocks = !!check.data?.verdict.blocked && !check.isFetching;
  const loading = published.isPending || liveVersion.isLoading || draftQueries.some((q) => q.isPending);
  const failure = published.error ?? liveVersion.error ?? draftQueries.find((q) => q.error)?.error;

  return (
    <Stack maw={1100}>
      <Group justify="space-between">
        <Title order={3}>Publish {gateway}</Title>
        <Text size="sm" c="dimmed">Live: {live ? `version ${live.version}` : 'nothing published yet'}</Text>
      </Group>

      <Card withBorder>
        <Text fw={600} mb="xs">1. What changes against {live ? `version ${live.version} (live)` : 'nothing (first publish)'}</Text>
        {loading && <DelayedLoader />}
        {failure && <ErrorNotice error={failure} />}
        {changes && changes.length === 0 && <Text size="sm" c="dimmed">The draft is the same as what is live.</Text>}
        {changes && changes.length > 0 && (
          <Accordion variant="contained" multiple data-testid="publish-changes" value={open} onChange={setOpenChanges}>
            {(showAll ? changes : changes.slice(0, CHANGES_SHOWN)).map((c) => (
              <Accordion.Item key={`${c.kind}/${c.name}`} value={`${c.kind}/${c.name}`} data-change={`${c.kind.toLowerCase()}/${c.name}`}>
                <Accordion.Control>
                  <Group gap="xs">
                    <Badge size="sm" color={CHANGE_COLOR[c.change]}>{c.change}</Badge>
                    <Text size="sm" className="mono">{c.kind.toLowerCase()}/{c.name}</Text>
                  </Group>
                </Accordion.Control>
                <Accordion.Panel>
                  {/* Diffed when opened: a publish of thousands of objects would otherwise diff them all at once. */}
                  {open.includes(`${c.kind}/${c.name}`) && (
                    <DiffView rows={diffLines(c.before, c.after)} leftTitle={live ? `Live (version ${live.version})` : 'Live'} rightTitle="Draft" />
                  )}
                </Accordion.Panel>
              </Accordion.Item>
            ))}
          </Accordion>
        )}
        {changes && changes.length > CHANGES_SHOWN && !showAll && (
          <Group mt="xs" gap="xs">
            <Text size="sm" c="dimmed" data-testid="publish-changes-more">
              {changes.length - CHANGES_SHOWN} more of {changes.length} changes.
            </Text>
            <Button size="xs" variant="subtle" onClick={() => setShowAll(true)}>Show all</Button>
          </Group>
        )}
      </Card>

      <Card withBorder>
        <Text fw={600} mb="xs">2. What the recent traffic would see</Text>
        <TrafficChange
          check={check.data}
          pending={check.isFetching}
          error={check.error}
          window={check.data?.window}
          live={live?.version}
          isAdmin={me.role === 'admin'}
          override={overrideGate}
          onOverride={setOverrideGate}
          onRerun={() => void check.refetch()}
        />
      </Card>

      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Text fw={600}>3. Route tests</Text>
          <Button size="xs" variant="light" onClick={() => tests.mutate(gateway)} loading={tests.isPending}>Run tests</Button>
        </Group>
        <Text size="sm" c="dimmed">Publishing runs them too and stops if one fails.</Text>
        {tests.isError && <ErrorNotice error={tests.error} title="Tests could not run" />}
        {tests.data && <TestResults results={tests.data.items} />}
      </Card>

      <Card withBorder>
        <Text fw={600} mb="xs">4. Push</Text>
        <Group>
          <Button
            leftSection={<IconCloudUpload size={16} />}
            disabled={!canEdit || nothingToPublish || (gateBlocks && !overrideGate)}
            loading={publish.isPending}
            onClick={() =>
              changes && confirmPublish(gateway, live?.version, changes, force, overrideGate, check.data?.report?.summary, () => publish.mutate())
            }
          >
            Publish to {gateway}
          </Button>
          {me.role === 'admin' && (
            <Checkbox label="Skip route tests (admin)" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
          )}
        </Group>
        {gateBlocks && !overrideGate && !nothingToPublish && (
          <Text size="sm" c="red" mt="xs" data-testid="gate-blocks">
            The publish gate holds this publish back (see 2){me.role === 'admin' ? ': override it there to publish anyway.' : '.'}
          </Text>
        )}
        {nothingToPublish && (
          <Text size="sm" c="dimmed" mt="xs" data-testid="nothing-to-publish">
            Nothing to publish: the draft is the same as version {live?.version}, which is live.
          </Text>
        )}
        {publish.isError && (
          <Alert color="red" mt="sm" title="Not published" role="alert">
            {friendlyMessage(publish.error)}
            {publish.error instanceof ApiError &&
              publish.error.errors.map((p, i) => (
                <Text key={i} size="sm" className="mono">{p.field ? `${p.field}: ` : ''}{p.message}</Text>
              ))}
          </Alert>
        )}
      </Card>

      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Text fw={600}>5. Proxies</Text>
          {watching && <Badge variant="dot">watching</Badge>}
        </Group>
        {proxies.isPending && <DelayedLoader />}
        {proxies.isError && <ErrorNotice error={proxies.error} title="Proxy status unavailable" />}
        {proxies.data && proxies.data.items.length === 0 && (
          <Text size="sm" c="dimmed" data-testid="no-proxies">
            No proxy has connected for {gateway}. Start an Envoy with the bootstrap from <code>routedeck bootstrap --gateway {gateway}</code>
            {server.data?.ads && (
              <>
                , which dials ADS at <code>{server.data.ads.address}</code> {server.data.ads.plaintext ? 'in plaintext' : 'over mutual TLS'}
                {server.data.ads.sandboxOnly ? ' (a loopback port for the sandbox only: start the server with --ads-listen for real proxies)' : ''}
              </>
            )}
            .
          </Text>
        )}
        {proxies.data && proxies.data.items.length > 0 && (
          <Table fz="sm" data-testid="proxies">
            <Table.Thead>
              <Table.Tr><Table.Th>Proxy</Table.Th><Table.Th>State</Table.Th><Table.Th>Acknowledged</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {proxies.data.items.map((p) => (
                <Table.Tr key={p.node}>
                  <Table.Td className="mono">{p.node}</Table.Td>
                  <Table.Td>
                    <ProxyState proxy={p} />
                  </Table.Td>
                  <Table.Td>
                    {Object.entries(p.acked ?? {}).map(([t, v]) => (
                      <Text key={t} size="xs" className="mono">{shortTypeUrl(t)} {v}</Text>
                    ))}
                    {p.nack && (
                      <Text size="xs" c="red" role="alert">
                        {shortTypeUrl(p.nack.typeUrl)} rejected{p.nack.rule ? ` (rule ${p.nack.rule})` : ''}: {p.nack.error}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  );
}

/**
 * A proxy's state at a glance: refused (red), running the current
 * configuration (green), or still taking it (yellow). Versions are per
 * resource type, so "current" is the server's verdict, not a comparison
 * of the numbers shown.
 */
function ProxyState({ proxy }: { proxy: ProxyStatus }) {
  if (!proxy.connected) return <Badge color="gray">disconnected</Badge>;
  if (proxy.nack) return <Badge color="red">NACK</Badge>;
  if (proxy.inSync) return <Badge color="green" title="Acknowledged the current configuration">ACK</Badge>;
  return <Badge color="yellow" title="Has not yet acknowledged the current configuration">pending</Badge>;
}
