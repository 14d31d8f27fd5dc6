import { Anchor, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useCanEdit } from '../auth';
import { QueryState } from '../components/Loading';
import { useGateways } from '../lib/queries';

/** Gateways with their listeners; each opens its editor. */
export default function Gateways() {
  const gws = useGateways();
  const canEdit = useCanEdit();
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Gateways</Title>
        {canEdit && <Button component="a" href="#/gateways/new" leftSection={<IconPlus size={14} />}>New gateway</Button>}
      </Group>
      <QueryState query={gws}>
        {(data) => (
          <Table fz="sm" striped data-testid="gateways">
            <Table.Thead>
              <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Listeners</Table.Th><Table.Th>Default response</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((g) => (
                <Table.Tr key={g.name}>
                  <Table.Td><Anchor href={`#/gateways/${encodeURIComponent(g.name)}`} fw={600}>{g.name}</Anchor></Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {g.listeners.map((l) => (
                        <Badge key={l.name} variant="light" color={l.protocol === 'HTTPS' ? 'green' : 'gray'}>{l.name} :{l.port} {l.protocol}</Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td><Text size="sm" c="dimmed">{g.defaultResponse ? `${g.defaultResponse.status}` : 'Envoy 404'}</Text></Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}
