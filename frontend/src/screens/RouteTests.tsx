import { Alert, Badge, Button, Card, Group, Stack, Table, Text, Title } from '@mantine/core';
import { IconPlayerPlay } from '@tabler/icons-react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { ErrorNotice, QueryState } from '../components/Loading';
import { useCurrentGateway } from '../gateway';
import { ApiError, get, post } from '../lib/api';
import type { ListResponse, SandboxRequest } from '../lib/model';

/** A saved case: a request and what must happen to it (router_check style). */
export interface RouteTest {
  name: string;
  gateway: string;
  request: SandboxRequest;
  expect: { rule?: string; upstream?: string; path?: string; host?: string; redirect?: string; status?: number; requestHeaders?: Record<string, string | null>; responseHeaders?: Record<string, string | null> };
}

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

/** Saved route tests of the current gateway, run on demand. */
export default function RouteTests() {
  const { gateway } = useCurrentGateway();
  const tests = useQuery({
    queryKey: ['tests', gateway],
    queryFn: () => get<ListResponse<RouteTest>>(`/tests?gateway=${encodeURIComponent(gateway!)}`),
    enabled: !!gateway,
  });
  const run = useRunTests();
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
                <Text size="sm" c="dimmed">No saved tests for {gateway}.</Text>
              ) : (
                <Table fz="sm" data-testid="tests">
                  <Table.Thead>
                    <Table.Tr><Table.Th>Test</Table.Th><Table.Th>Request</Table.Th><Table.Th>Expect</Table.Th></Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.items.map((t) => (
                      <Table.Tr key={t.name}>
                        <Table.Td>{t.name}</Table.Td>
                        <Table.Td className="mono">{t.request.method} {t.request.url}</Table.Td>
                        <Table.Td className="mono">{Object.entries(t.expect).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ')}</Table.Td>
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
    </Stack>
  );
}
