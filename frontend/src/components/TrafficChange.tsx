import { Accordion, Alert, Badge, Button, Checkbox, Group, Progress, Stack, Table, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconRefresh } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import type { components } from '../lib/openapi.gen';
import { ErrorNotice } from './Loading';

type Schemas = components['schemas'];
export type PublishCheck = Schemas['PublishCheck'];
type Report = Schemas['ReplayReport'];
type Outcome = Schemas['ReplayOutcome'];

/** How each class of change reads. */
const CLASS_LABEL: Record<string, string> = {
  'other-rule': 'other rule',
  'other-upstream': 'other upstream',
  'now-404': 'now 404',
  'now-redirect': 'now redirect',
  'rewrite-changed': 'rewrite changed',
  'headers-changed': 'headers changed',
  'status-changed': 'status changed',
  'body-changed': 'body changed',
};
const CLASS_COLOR: Record<string, string> = { 'now-404': 'red', 'now-redirect': 'grape', 'other-rule': 'orange', 'other-upstream': 'yellow' };

const ruleName = (r: string) => r || '(no rule)';

/** The host of a request's URL. */
function hostOf(url: string) {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** One version's outcome of a request, in one line; the host the upstream gets only when the gateway changes it. */
function outcomeText(o: Outcome, url: string) {
  const parts = [`rule ${ruleName(o.rule)}`];
  if (o.redirect) parts.push(`${o.status} redirect to ${o.redirect}`);
  else if (o.forward?.length) {
    parts.push(
      o.forward
        .map((f) => `→ ${f.upstream}${f.share < 1 ? ` ${Math.round(f.share * 1000) / 10}%` : ''} ${f.path}${f.host && f.host !== hostOf(url) ? ` (host ${f.host})` : ''}`)
        .join(', '),
    );
  } else if (o.status) parts.push(`answers ${o.status}${o.body ? `: ${o.body.slice(0, 60)}` : ''}`);
  return parts.join(' ');
}

/** A Go duration as people write it: "24h0m0s" is "24h". */
export function shortDuration(d: string) {
  return d.replace(/([hm])0s$/, '$1').replace(/h0m$/, 'h');
}

/** While a replay runs: the seconds it has taken so far. */
function Running({ window, live }: { window?: string; live?: number }) {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    const start = Date.now();
    const t = setInterval(() => setSeconds(Math.floor((Date.now() - start) / 1000)), 500);
    return () => clearInterval(t);
  }, []);
  return (
    <Stack gap={4} data-testid="replay-running">
      <Progress value={100} animated striped aria-label="Replaying" />
      <Text size="sm" c="dimmed">
        Replaying the requests the gateway served{window ? ` over the last ${shortDuration(window)}` : ''} against {live ? `version ${live} (live)` : 'the live version'} and the
        draft, through the rules and the simulated Envoy… {seconds > 0 && `${seconds}s`}
      </Text>
    </Stack>
  );
}

/** The gate's verdict and, when it blocks, an admin's override. */
function Verdict({ check, isAdmin, override, onOverride }: { check: PublishCheck; isAdmin: boolean; override: boolean; onOverride: (v: boolean) => void }) {
  const v = check.verdict;
  if (!v.gate) {
    return (
      <Text size="sm" c="dimmed" data-testid="gate-verdict">
        No publish gate on this gateway: a publish goes ahead whatever it changes. An editor can set <code>publishGate</code> on the gateway to hold back
        publishes that change too much of its traffic.
      </Text>
    );
  }
  const limits = [
    v.gate.maxChangedPercent !== undefined && `at most ${v.gate.maxChangedPercent}% of the requests change`,
    v.gate.blockOutsideEditedRules && 'no request outside the edited rules changes',
  ].filter(Boolean);
  if (!v.blocked) {
    return (
      <Alert color="green" variant="light" title="The publish gate lets this publish through" data-testid="gate-verdict">
        <Text size="sm">Limits: {limits.join('; ')}.</Text>
      </Alert>
    );
  }
  return (
    <Alert color="red" title="The publish gate holds this publish back" role="alert" icon={<IconAlertTriangle />} data-testid="gate-verdict">
      <Stack gap={4}>
        {v.reasons.map((r, i) => (
          <Text key={i} size="sm" data-limit={r.limit}>{r.message}</Text>
        ))}
        {v.editedRules.length > 0 && <Text size="xs" c="dimmed">Edited rules: {v.editedRules.join(', ')}</Text>}
        {isAdmin ? (
          <Checkbox
            mt={4}
            label="Override the gate for this publish (admin; recorded in the audit log)"
            checked={override}
            onChange={(e) => onOverride(e.currentTarget.checked)}
            data-testid="gate-override"
          />
        ) : (
          <Text size="sm">Only an admin can publish past the gate.</Text>
        )}
      </Stack>
    </Alert>
  );
}

/** Disagreements of the simulated Envoy and the rules, which make the report unsure for those requests. */
function Alarms({ report }: { report: Report }) {
  const f = report.fidelity;
  if (f.requests === 0) return null;
  return (
    <Alert color="red" variant="outline" title={`Fidelity alarm: the simulated Envoy and the rules disagree on ${f.requests} request${f.requests === 1 ? '' : 's'}`} data-testid="fidelity-alarms">
      <Text size="xs" mb={4}>The translation (or the simulator) is wrong for these requests: what the report says of them may not be what Envoy does.</Text>
      <Table fz="xs" verticalSpacing={2}>
        <Table.Thead>
          <Table.Tr><Table.Th>Version</Table.Th><Table.Th>Request</Table.Th><Table.Th>Field</Table.Th><Table.Th>Rules say</Table.Th><Table.Th>Envoy does</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {f.alarms.map((a, i) => (
            <Table.Tr key={i}>
              <Table.Td>{a.version}</Table.Td>
              <Table.Td className="mono">{a.request.method} {a.request.url}</Table.Td>
              <Table.Td>{a.field}</Table.Td>
              <Table.Td className="mono">{a.evaluator}</Table.Td>
              <Table.Td className="mono">{a.sim}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Alert>
  );
}

/** Weighted splits whose distribution changes, as expected shares per upstream. */
function Splits({ report }: { report: Report }) {
  const changed = report.splits.filter((s) => s.changed);
  if (changed.length === 0) return null;
  const share = (list: Schemas['ReplayShare'][]) => list.map((s) => `${s.upstream} ${Math.round(s.percent * 10) / 10}%`).join(', ') || 'none';
  return (
    <Stack gap={4} data-testid="replay-splits">
      <Text size="sm" fw={600}>Weighted splits that change</Text>
      <Table fz="sm" verticalSpacing={2}>
        <Table.Thead>
          <Table.Tr><Table.Th>Rule</Table.Th><Table.Th>Requests</Table.Th><Table.Th>Before</Table.Th><Table.Th>After</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {changed.map((s, i) => (
            <Table.Tr key={i}>
              <Table.Td className="mono">{ruleName(s.ruleBefore)} → {ruleName(s.ruleAfter)}</Table.Td>
              <Table.Td>{s.requests}</Table.Td>
              <Table.Td>{share(s.before)}</Table.Td>
              <Table.Td>{share(s.after)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/** The changed requests, grouped by the rule before and after, with examples. */
function Groups({ report, outside }: { report: Report; outside: string[] }) {
  if (report.groups.length === 0) return null;
  const key = (g: Schemas['ReplayGroup']) => `${g.ruleBefore}→${g.ruleAfter}`;
  return (
    <Accordion variant="contained" multiple data-testid="replay-groups" defaultValue={report.groups.slice(0, 3).map(key)}>
      {report.groups.map((g) => {
        const isOutside = outside.includes(`${ruleName(g.ruleBefore)} → ${ruleName(g.ruleAfter)}`);
        return (
          <Accordion.Item key={key(g)} value={key(g)} data-group={key(g)}>
            <Accordion.Control>
              <Group gap="xs">
                <Text size="sm" className="mono">{ruleName(g.ruleBefore)} → {ruleName(g.ruleAfter)}</Text>
                <Text size="sm" c="dimmed">{g.changed} of {g.requests} changed</Text>
                {Object.entries(g.classes).map(([c, n]) => (
                  <Badge key={c} size="sm" variant="light" color={CLASS_COLOR[c] ?? 'blue'}>{CLASS_LABEL[c] ?? c} {n}</Badge>
                ))}
                {isOutside && <Badge size="sm" color="red">outside the edited rules</Badge>}
              </Group>
            </Accordion.Control>
            <Accordion.Panel>
              <Table fz="xs" verticalSpacing={4}>
                <Table.Thead>
                  <Table.Tr><Table.Th>Request</Table.Th><Table.Th>Before (live)</Table.Th><Table.Th>After (draft)</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {g.examples.map((e, i) => (
                    <Table.Tr key={i}>
                      <Table.Td>
                        <Text size="xs" className="mono">{e.request.method} {e.request.url}</Text>
                        <Text size="xs" c="dimmed">{e.request.origin}</Text>
                      </Table.Td>
                      <Table.Td className="mono">{outcomeText(e.before, e.request.url)}</Table.Td>
                      <Table.Td className="mono">{outcomeText(e.after, e.request.url)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Accordion.Panel>
          </Accordion.Item>
        );
      })}
    </Accordion>
  );
}

interface Props {
  check: PublishCheck | undefined;
  pending: boolean;
  error: unknown;
  window?: string;
  live?: number;
  isAdmin: boolean;
  override: boolean;
  onOverride: (v: boolean) => void;
  onRerun: () => void;
}

/**
 * What the draft would do to the traffic the gateway served lately: the
 * replay of those requests against the live version and the draft, and
 * the publish gate's verdict on it.
 */
export function TrafficChange({ check, pending, error, window, live, isAdmin, override, onOverride, onRerun }: Props) {
  if (pending) return <Running window={window} live={live} />;
  if (error) return <ErrorNotice error={error} title="The recent requests could not be replayed" />;
  if (!check) return null;
  const rep = check.report;
  if (!rep) {
    return (
      <Stack gap="xs">
        {check.verdict.notes.map((n, i) => <Text key={i} size="sm" c="dimmed">{n}.</Text>)}
      </Stack>
    );
  }
  const counts = Object.entries(rep.classes).filter(([, n]) => n > 0);
  return (
    <Stack gap="sm" data-testid="traffic-change">
      <Group justify="space-between" align="flex-start">
        <Stack gap={2}>
          <Title order={4} data-testid="replay-summary" c={rep.changed === 0 ? 'green.8' : undefined}>
            {rep.changed} of {rep.total} recent request{rep.total === 1 ? '' : 's'} would change
          </Title>
          <Text size="xs" c="dimmed">
            Captured over the last {shortDuration(check.window)}, replayed against version {rep.from.version} (live) and the draft through{' '}
            {rep.engines.includes('sim') ? 'the rules and the simulated Envoy' : 'the rules'} in {Math.round(rep.durationMs)} ms.
            {rep.source.truncated ? ' Only the newest requests were replayed.' : ''}
          </Text>
        </Stack>
        <Button size="xs" variant="subtle" leftSection={<IconRefresh size={14} />} onClick={onRerun}>Replay again</Button>
      </Group>
      {counts.length > 0 && (
        <Group gap={6} data-testid="replay-classes">
          {counts.map(([c, n]) => (
            <Badge key={c} variant="light" color={CLASS_COLOR[c] ?? 'blue'}>{CLASS_LABEL[c] ?? c}: {n}</Badge>
          ))}
        </Group>
      )}
      {[...(rep.source.notes ?? []), ...check.verdict.notes].map((n, i) => (
        <Text key={i} size="xs" c="dimmed">Note: {n}.</Text>
      ))}
      <Alarms report={rep} />
      <Verdict check={check} isAdmin={isAdmin} override={override} onOverride={onOverride} />
      <Groups report={rep} outside={check.verdict.outsideGroups} />
      {(rep.groupsOmitted ?? 0) > 0 && <Text size="xs" c="dimmed">{rep.groupsOmitted} smaller groups are not listed.</Text>}
      <Splits report={rep} />
    </Stack>
  );
}
