import { Alert, Badge, Table, Text } from '@mantine/core';
import { hostState } from '../lib/health';
import type { ClusterHealth, SimulationEndpoint } from '../lib/model';

/** The hosts of the cluster a sandbox request was balanced over, with why any is left out. */
export function ClusterHealthView({ health }: { health: ClusterHealth }) {
  return (
    <>
      {health.panic && (
        <Alert color="yellow" mb="xs">Too few hosts are healthy (below the panic threshold): the request was balanced over all of them.</Alert>
      )}
      <Table fz="xs" withRowBorders={false}>
        <Table.Tbody>
          {health.hosts.map((h) => {
            const st = hostState(h);
            return (
              <Table.Tr key={h.address}>
                <Table.Td className="mono">{h.address}</Table.Td>
                <Table.Td><Badge size="xs" color={st.color}>{st.label}</Badge></Table.Td>
                <Table.Td><Text size="xs" c="dimmed">{h.reason ?? h.lastCheck ?? ''}</Text></Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </>
  );
}

/** Requests per endpoint of a traffic simulation and each endpoint's health when it ended. */
export function EndpointResultsView({ endpoints }: { endpoints: SimulationEndpoint[] }) {
  return (
    <Table fz="xs" data-testid="simulation-endpoints">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Upstream</Table.Th>
          <Table.Th>Endpoint</Table.Th>
          <Table.Th ta="right">Requests</Table.Th>
          <Table.Th>Health at the end</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {endpoints.map((e) => {
          const st = e.health ? hostState(e.health) : null;
          return (
            <Table.Tr key={`${e.upstream}/${e.index}`}>
              <Table.Td>{e.upstream}</Table.Td>
              <Table.Td className="mono">#{e.index} {e.standsFor ?? e.address}</Table.Td>
              <Table.Td ta="right">{e.requests}</Table.Td>
              <Table.Td>
                {st ? <Badge size="xs" color={st.color}>{st.label}</Badge> : <Text size="xs" c="dimmed">not checked</Text>}
                {e.health?.reason && <Text size="xs" c="dimmed">{e.health.reason}</Text>}
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}
