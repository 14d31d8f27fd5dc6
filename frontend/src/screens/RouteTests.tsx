import { ActionIcon, Alert, Badge, Button, Card, Group, Modal, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPencil, IconPlayerPlay, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCanEdit } from '../auth';
import { modalsConfirm } from '../components/confirm';
import { ErrorNotice, QueryState } from '../components/Loading';
import { RouteTestEditor } from '../components/RouteTestEditor';
import { useCurrentGateway } from '../gateway';
import { ApiError, del, friendlyMessage, get, post, seg } from '../lib/api';
import type { ListResponse } from '../lib/model';
import { expectSummary, type RouteTest } from '../lib/routeTests';

export type { RouteTest } from '../lib/routeTests';

export interface TestResult {
  name: string;
  gateway?: string;
  passed: boolean;
  message?: string;
  /** Each expectation that did not hold, per engine (evaluator, sim, envoy). */
  failures?: { engine: string; field: string; expected: string; actual: string }[];
}

/** Runs a gateway's route tests on the server. */
export function useRunTests() {
  return useMutation({ mutationFn: (gateway: string) => post<{ passed: number; failed: number; items: TestResult[] }>('/tests/run', { gateway }) });
}

/** Pass/fail per test, failures with the server's explanation. */
export function TestResults({ results }: { results: TestResult[] }) {
  const failed = results.filter((r) => !r.passed).length;
  return (
    <Stack gap="xs" mt="xs" data-testid="test-results">
      <Text size="sm" fw={500} c={failed ? 'red' : 'green'}>
        {results.length - failed} passed, {failed} failed
      </Text>
      <Table fz="sm">
        <Table.Tbody>
          {results.map((r) => (
            <Table.Tr key={r.name}>
              <Table.Td w={90}><Badge color={r.passed ? 'green' : 'red'}>{r.passed ? 'pass' : 'fail'}</Badge></Table.Td>
              <Table.Td>{r.name}</Table.Td>
              <Table.Td c="red" className="mono">
                {r.message}
                {r.failures?.map((f, i) => (
                  <div key={i}>{f.engine}: {f.field} expected {f.expected || '(none)'}, got {f.actual || '(none)'}</div>
                ))}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/** Saved route tests of the current gateway, run on demand, edited and deleted in place. */
export default function RouteTests() {
  const { gateway } = useCurrentGateway();
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const tests = useQuery({
    queryKey: ['tests', gateway],
    queryFn: () => get<ListResponse<RouteTest>>(`/tests?gateway=${encodeURIComponent(gateway!)}`),
    enabled: !!gateway,
  });
  const run = useRunTests();
  const [editing, setEditing] = useState<RouteTest | null>(null);
  const remove = useMutation({
    mutationFn: (t: RouteTest) => del<void>(`/tests/${seg(t.name)}?version=${t.version ?? ''}`),
    onSuccess: (_, t) => {
      notifications.show({ color: 'green', title: 'Deleted', message: `Route test ${t.name} deleted.` });
      qc.invalidateQueries({ queryKey: ['tests'] });
    },
    onError: (e) => notifications.show({ color: 'red', title: 'Could not delete the test', message: friendlyMessage(e) }),
  });
  const missing = tests.error instanceof ApiError && (tests.error.status === 404 || tests.error.status === 501);
  return (
    <Stack maw={1100}>
      <Group justify="space-between">
        <Title order={3}>Route tests</Title>
        <Button leftSection={<IconPlayerPlay size={16} />} onClick={() => gateway && run.mutate(gateway)} loading={run.isPending} disabled={!gateway || missing}>
          Run all
        </Button>
      </Group>
      {missing ? (
        <Alert>This server does not offer route tests over the API yet. Run them with <code>routedeck test</code>.</Alert>
      ) : (
        <Card withBorder>
          <QueryState query={{ ...tests, isPending: tests.isPending && tests.fetchStatus !== 'idle' }}>
            {(data) =>
              !data || data.items.length === 0 ? (
                <Text size="sm" c="dimmed">No saved tests for {gateway}. Save one from a request in the Sandbox.</Text>
              ) : (
                <Table fz="sm" data-testid="tests">
                  <Table.Thead>
                    <Table.Tr><Table.Th>Test</Table.Th><Table.Th>Request</Table.Th><Table.Th>Expect</Table.Th><Table.Th w={90} /></Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.items.map((t) => (
                      <Table.Tr key={t.name} data-test={t.name}>
                        <Table.Td>
                          {t.name}
                          {t.description && <Text size="xs" c="dimmed">{t.description}</Text>}
                        </Table.Td>
                        <Table.Td className="mono">{t.request.method || 'GET'} {t.request.url}</Table.Td>
                        <Table.Td className="mono">{expectSummary(t.expect)}</Table.Td>
                        <Table.Td>
                          {canEdit && (
                            <Group gap={2} wrap="nowrap">
                              <Tooltip label="Edit">
                                <ActionIcon variant="subtle" aria-label={`Edit test ${t.name}`} onClick={() => setEditing(t)}><IconPencil size={16} /></ActionIcon>
                              </Tooltip>
                              <Tooltip label="Delete">
                                <ActionIcon
                                  variant="subtle"
                                  color="red"
                                  aria-label={`Delete test ${t.name}`}
                                  loading={remove.isPending && remove.variables?.name === t.name}
                                  onClick={() => modalsConfirm(`Delete route test ${t.name}?`, 'Publishing no longer runs it.', () => remove.mutate(t), 'Delete')}
                                >
                                  <IconTrash size={16} />
                                </ActionIcon>
                              </Tooltip>
                            </Group>
                          )}
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )
            }
          </QueryState>
        </Card>
      )}
      {run.isError && <ErrorNotice error={run.error} title="Tests could not run" />}
      {run.data && <TestResults results={run.data.items} />}
      <Modal opened={!!editing} onClose={() => setEditing(null)} title={editing ? `Edit route test ${editing.name}` : ''} size="xl">
        {editing && <RouteTestEditor key={`${editing.name}@${editing.version}`} test={editing} onSaved={() => setEditing(null)} />}
      </Modal>
    </Stack>
  );
}
