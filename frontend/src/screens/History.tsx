import { Badge, Button, Card, Grid, Group, ScrollArea, Stack, Table, Text, Title, UnstyledButton } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconArrowBackUp } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCanEdit } from '../auth';
import { modalsConfirm } from '../components/confirm';
import { DiffView } from '../components/DiffView';
import { QueryState } from '../components/Loading';
import { useCurrentGateway } from '../gateway';
import { friendlyMessage, post, seg } from '../lib/api';
import { diffLines } from '../lib/diff';
import { objectText } from '../lib/objectText';
import { timeAgo } from '../lib/format';
import type { Revision } from '../lib/model';
import { keys, usePublished, useRevision, useRevisions } from '../lib/queries';

const ACTION_COLOR: Record<string, string> = { create: 'green', update: 'blue', delete: 'red', rollback: 'grape' };

/** Every change (who, when, what) with its diff, and the published versions to roll back to. */
export default function History() {
  const revs = useRevisions();
  const [selected, setSelected] = useState<Revision | null>(null);
  return (
    <Stack>
      <Title order={3}>History</Title>
      <PublishedVersions />
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Card withBorder padding={0}>
            <ScrollArea h={520}>
              <QueryState query={revs}>
                {(data) => (
                  <Table highlightOnHover fz="sm" data-testid="revisions">
                    <Table.Tbody>
                      {data.items.length === 0 && <Table.Tr><Table.Td c="dimmed">No changes yet.</Table.Td></Table.Tr>}
                      {data.items.map((r) => (
                        <Table.Tr key={r.id} bg={selected?.id === r.id ? 'var(--mantine-color-default-hover)' : undefined}>
                          <Table.Td>
                            <UnstyledButton onClick={() => setSelected(r)} w="100%">
                              <Group gap={6}>
                                <Badge size="xs" color={ACTION_COLOR[r.action] ?? 'gray'}>{r.action}</Badge>
                                <Text size="sm" fw={500}>{r.kind.toLowerCase()}/{r.name}</Text>
                                <Text size="xs" c="dimmed">v{r.version}</Text>
                              </Group>
                              <Text size="xs" c="dimmed">{r.actor} · {timeAgo(r.at)}</Text>
                            </UnstyledButton>
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                )}
              </QueryState>
            </ScrollArea>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Card withBorder>
            {selected ? (
              <Stack gap="xs">
                <Text fw={600}>{selected.kind.toLowerCase()}/{selected.name} · {selected.action} by {selected.actor}</Text>
                <RevisionDiff id={selected.id} />
              </Stack>
            ) : (
              <Text c="dimmed" size="sm">Pick a change to see what it did.</Text>
            )}
          </Card>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

/**
 * The side-by-side diff of one revision, loaded when it is opened. A change
 * too large to diff was recorded as a note, which is shown as it is.
 */
export function RevisionDiff({ id }: { id: number }) {
  const rev = useRevision(id);
  return (
    <QueryState query={rev}>
      {(d) =>
        d.diffTooLarge ? (
          <Text size="sm" c="dimmed" data-testid="diff-too-large">{d.diff}</Text>
        ) : (
          <DiffView rows={diffLines(objectText(d.kind, d.before), objectText(d.kind, d.after))} />
        )
      }
    </QueryState>
  );
}

/** Published versions of the current gateway, each with a rollback button. */
function PublishedVersions() {
  const { gateway } = useCurrentGateway();
  const published = usePublished(gateway);
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const rollback = useMutation({
    mutationFn: (version: number) => post<{ version: number }>(`/gateways/${seg(gateway!)}/rollback`, { version }),
    onSuccess: (res, version) => {
      notifications.show({ color: 'green', title: 'Rolled back', message: `Version ${version} is live again as version ${res.version}.` });
      qc.invalidateQueries({ queryKey: keys.published(gateway!) });
      qc.invalidateQueries({ queryKey: keys.proxies(gateway!) });
      // A rollback rewrites the draft to the version rolled back to: the
      // change list and every screen showing draft objects move on with it.
      qc.invalidateQueries({ queryKey: keys.revisions });
      qc.invalidateQueries({ queryKey: ['routes'] });
      qc.invalidateQueries({ queryKey: ['upstreams'] });
      qc.invalidateQueries({ queryKey: ['gateways'] });
      qc.invalidateQueries({ queryKey: ['secrets'] });
      qc.invalidateQueries({ queryKey: keys.lints });
    },
    onError: (e) => notifications.show({ color: 'red', title: 'Rollback failed', message: friendlyMessage(e) }),
  });
  return (
    <Card withBorder>
      <Text fw={600} mb="xs">Published versions of {gateway ?? '—'}</Text>
      <QueryState query={published}>
        {(list) =>
          list.length === 0 ? (
            <Text size="sm" c="dimmed">Nothing published yet.</Text>
          ) : (
            <Table fz="sm" data-testid="published-versions">
              <Table.Tbody>
                {list.slice(0, 8).map((p, i) => (
                  <Table.Tr key={p.version}>
                    <Table.Td w={70}><b>v{p.version}</b></Table.Td>
                    <Table.Td>{p.actor} · {timeAgo(p.at)}{p.note ? ` · ${p.note}` : ''}</Table.Td>
                    <Table.Td w={160}>
                      {i === 0 ? (
                        <Badge color="green">live</Badge>
                      ) : (
                        canEdit && (
                          <Button
                            size="compact-xs"
                            variant="light"
                            leftSection={<IconArrowBackUp size={12} />}
                            loading={rollback.isPending && rollback.variables === p.version}
                            onClick={() => modalsConfirm(`Roll ${gateway} back to version ${p.version}?`, 'Its configuration is published again as a new version and pushed to every proxy.', () => rollback.mutate(p.version), 'Roll back')}
                          >
                            Roll back
                          </Button>
                        )
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
  );
}
