// Two texts compared line by line and laid out side by side: the diff view
// of History and Publish (objects as objectText shows them).

/** One row of a side-by-side view; a missing side is blank on screen. */
export interface DiffRow {
  kind: 'same' | 'del' | 'add' | 'change' | 'hunk';
  left?: { n: number; text: string };
  right?: { n: number; text: string };
}

type Edit = { op: ' ' | '-' | '+'; text: string };

/** Pairs the deletions and insertions of each changed region so they sit on the same rows. */
function pair(edits: Edit[], startLeft: number, startRight: number, rows: DiffRow[]) {
  let l = startLeft;
  let r = startRight;
  let dels: string[] = [];
  let adds: string[] = [];
  const flush = () => {
    const k = Math.max(dels.length, adds.length);
    for (let x = 0; x < k; x++) {
      const left = x < dels.length ? { n: l++, text: dels[x] } : undefined;
      const right = x < adds.length ? { n: r++, text: adds[x] } : undefined;
      rows.push({ kind: left && right ? 'change' : left ? 'del' : 'add', left, right });
    }
    dels = [];
    adds = [];
  };
  for (const e of edits) {
    if (e.op === '-') dels.push(e.text);
    else if (e.op === '+') adds.push(e.text);
    else {
      flush();
      rows.push({ kind: 'same', left: { n: l++, text: e.text }, right: { n: r++, text: e.text } });
    }
  }
  flush();
}

/**
 * The most cells the longest-common-subsequence table may have (old lines
 * times new lines, after the common head and tail are set aside). Past it
 * the changed middle is shown as removed and added whole: a correct
 * picture, if not the closest one, instead of a table that would freeze
 * the page.
 */
export const MAX_LCS_CELLS = 4_000_000;

/**
 * Side-by-side rows for two texts, compared line by line (longest common
 * subsequence). Used where the server gives two objects rather than a diff,
 * such as the live workspace against the draft.
 */
export function diffLines(before: string, after: string): DiffRow[] {
  const a = before === '' ? [] : before.split('\n');
  const b = after === '' ? [] : after.split('\n');
  // The lines both texts start and end with are kept as they are; only the
  // middle needs the table.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ma = a.slice(head, a.length - tail);
  const mb = b.slice(head, b.length - tail);
  const edits: Edit[] = a.slice(0, head).map((text) => ({ op: ' ', text }));
  if (ma.length * mb.length > MAX_LCS_CELLS) {
    for (const text of ma) edits.push({ op: '-', text });
    for (const text of mb) edits.push({ op: '+', text });
  } else {
    edits.push(...lcsEdits(ma, mb));
  }
  for (const text of a.slice(a.length - tail)) edits.push({ op: ' ', text });
  const rows: DiffRow[] = [];
  pair(edits, 1, 1, rows);
  return rows;
}

/** A shortest edit script from a to b, from a full LCS table. */
function lcsEdits(a: string[], b: string[]): Edit[] {
  // lcs[i][j]: length of the longest common subsequence of a[i:] and b[j:].
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const edits: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      edits.push({ op: ' ', text: a[i++] });
      j++;
    } else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) {
      edits.push({ op: '+', text: b[j++] });
    } else {
      edits.push({ op: '-', text: a[i++] });
    }
  }
  return edits;
}
