import { Anchor, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useCanEdit } from '../auth';
import { QueryState } from '../components/Loading';
import { useSecrets } from '../lib/queries';

/** Certificates, keys and CA bundles delivered to Envoy over SDS. */
export default function Secrets() {
  const secrets = useSecrets();
  const canEdit = useCanEdit();
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Secrets</Title>
        {canEdit && <Button component="a" href="#/secrets/new" leftSection={<IconPlus size={14} />}>New secret</Button>}
      </Group>
      <QueryState query={secrets}>
        {(data) =>
          data.items.length === 0 ? (
            <Text c="dimmed" size="sm">No secrets yet. HTTPS listeners and upstream TLS name them.</Text>
          ) : (
            <Table fz="sm" striped data-testid="secrets">
              <Table.Thead>
                <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Holds</Table.Th><Table.Th>Description</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((s) => (
                  <Table.Tr key={s.name}>
                    <Table.Td><Anchor href={`#/secrets/${encodeURIComponent(s.name)}`} fw={600}>{s.name}</Anchor></Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {s.tls && <Badge variant="light">certificate{s.tls.privateKey ? ' + key' : ''}</Badge>}
                        {s.ca && <Badge variant="light" color="grape">CA</Badge>}
                      </Group>
                    </Table.Td>
                    <Table.Td><Text size="sm" c="dimmed">{s.description}</Text></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Stack>
  );
}
