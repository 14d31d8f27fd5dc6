import { Grid, ScrollArea, Text } from '@mantine/core';
import type { DiffRow } from '../lib/diff';

/** Two columns, before and after, with removed lines red and added lines green. */
export function DiffView({ rows, leftTitle = 'Before', rightTitle = 'After', maxHeight = 480 }: { rows: DiffRow[]; leftTitle?: string; rightTitle?: string; maxHeight?: number }) {
  if (rows.length === 0) return <Text size="sm" c="dimmed">No differences.</Text>;
  const cell = (side: 'left' | 'right', r: DiffRow, i: number) => {
    const v = r[side];
    const cls = r.kind === 'hunk' ? '' : !v ? '' : side === 'left' && (r.kind === 'del' || r.kind === 'change') ? 'diff-del' : side === 'right' && (r.kind === 'add' || r.kind === 'change') ? 'diff-add' : '';
    return (
      <div key={i} className={`diff-line ${cls}`} style={r.kind === 'hunk' ? { color: 'var(--mantine-color-dimmed)' } : undefined}>
        {v && r.kind !== 'hunk' && <span style={{ display: 'inline-block', width: 34, color: 'var(--mantine-color-dimmed)' }}>{v.n}</span>}
        {v?.text ?? ''}
      </div>
    );
  };
  return (
    <ScrollArea.Autosize mah={maxHeight} type="auto">
      <Grid gutter={4} data-testid="diff">
        {/* Each side scrolls on its own: a long line never runs into the other. */}
        <Grid.Col span={6} style={{ overflowX: 'auto' }}>
          <Text size="xs" fw={600} c="dimmed">{leftTitle}</Text>
          {rows.map((r, i) => cell('left', r, i))}
        </Grid.Col>
        <Grid.Col span={6} style={{ overflowX: 'auto' }}>
          <Text size="xs" fw={600} c="dimmed">{rightTitle}</Text>
          {rows.map((r, i) => cell('right', r, i))}
        </Grid.Col>
      </Grid>
    </ScrollArea.Autosize>
  );
}
