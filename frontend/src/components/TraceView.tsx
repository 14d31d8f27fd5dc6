import { Badge, Card, Group, Stack, Text, ThemeIcon } from '@mantine/core';
import { IconCheck, IconX } from '@tabler/icons-react';
import type { TraceRule } from '../lib/model';
import { nearMissReason } from '../lib/trace';

/** The rule list as the router walked it: each condition green or red, the winner highlighted, near misses explained. */
export function TraceView({ trace, winner }: { trace: TraceRule[]; winner: string | null }) {
  if (trace.length === 0) return <Text c="dimmed" size="sm">No rules on this gateway.</Text>;
  return (
    <Stack gap="xs" data-testid="trace">
      {!winner && <Text c="orange" size="sm" fw={500}>No rule matched: the gateway's default response answered.</Text>}
      {trace.map((t, i) => {
        const isWinner = t.rule === winner;
        const near = nearMissReason(t);
        return (
          <Card
            key={`${t.rule}-${i}`}
            withBorder
            padding="xs"
            className={isWinner ? 'trace-winner' : undefined}
            data-rule={t.rule}
            data-matched={t.matched}
            data-winner={isWinner || undefined}
          >
            <Group gap="xs" mb={4}>
              <Text fw={600} size="sm">{t.rule}</Text>
              {t.priority !== undefined && <Text size="xs" c="dimmed">priority {t.priority}</Text>}
              {isWinner ? (
                <Badge color="green">winner</Badge>
              ) : t.skipped ? (
                <Badge color="gray" variant="outline">skipped: {t.skipped}</Badge>
              ) : t.matched ? (
                <Badge color="teal" variant="light">matched (lower priority)</Badge>
              ) : (
                <Badge color="gray" variant="light">no match</Badge>
              )}
              {near && <Badge color="orange" variant="light">near miss</Badge>}
            </Group>
            <Stack gap={2}>
              {(t.conditions ?? []).length === 0 && <Text size="xs" c="dimmed">no condition: matches every request</Text>}
              {(t.conditions ?? []).map((c, j) => (
                <Group key={j} gap={6} wrap="nowrap" data-result={c.result} pl={(c.depth ?? 0) * 18}>
                  <ThemeIcon size={16} radius="xl" color={c.result ? 'green' : 'red'} variant="light" aria-label={c.result ? 'true' : 'false'}>
                    {c.result ? <IconCheck size={11} /> : <IconX size={11} />}
                  </ThemeIcon>
                  <Text size="xs" className="mono" c={c.result ? 'green.8' : 'red.7'}>{c.expr}</Text>
                  {c.error && <Text size="xs" c="red">— {c.error}</Text>}
                </Group>
              ))}
            </Stack>
            {near && <Text size="xs" c="orange.8" mt={4}>{near}</Text>}
          </Card>
        );
      })}
    </Stack>
  );
}
