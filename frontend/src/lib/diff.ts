// Line diffs shown side by side: the history screen gets unified diffs from
// the server, the publish screen compares the draft with what is live here.

/** One row of a side-by-side view; a missing side is blank on screen. */
export interface DiffRow {
  kind: 'same' | 'del' | 'add' | 'change' | 'hunk';
  left?: { n: number; text: string };
  right?: { n: number; text: string };
}

type Edit = { op: ' ' | '-' | '+'; text: string };

/** A shortest edit script between two line lists (LCS by dynamic programming; fine for object-sized texts). */
export function lineEdits(a: string[], b: string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ op: ' ', text: a[i++] });
      j++;
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) out.push({ op: '+', text: b[j++] });
    else out.push({ op: '-', text: a[i++] });
  }
  // Deletions before insertions within a changed region, as in unified diffs.
  for (let k = 0; k < out.length; k++) {
    let e = k;
    while (e < out.length && out[e].op !== ' ') e++;
    if (e - k > 1) {
      const region = out.slice(k, e);
      out.splice(k, e - k, ...region.filter((x) => x.op === '-'), ...region.filter((x) => x.op === '+'));
    }
    k = e;
  }
  return out;
}

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

/** Side-by-side rows for two texts. */
export function sideBySide(before: string, after: string): DiffRow[] {
  const split = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
  const rows: DiffRow[] = [];
  pair(lineEdits(split(before), split(after)), 1, 1, rows);
  return rows;
}

/** Side-by-side rows for a unified diff ("--- a", "+++ b", "@@ -l,n +l,n @@", then " ", "-", "+" lines). */
export function parseUnified(diff: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let edits: Edit[] = [];
  let l = 1;
  let r = 1;
  const flush = () => {
    pair(edits, l, r, rows);
    edits = [];
  };
  for (const line of diff.split('\n')) {
    if (line.startsWith('--- ') || line.startsWith('+++ ') || line.startsWith('\\')) continue;
    const h = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/.exec(line);
    if (h) {
      flush();
      l = Number(h[1]) || 1;
      r = Number(h[2]) || 1;
      rows.push({ kind: 'hunk', left: { n: 0, text: line }, right: { n: 0, text: line } });
      continue;
    }
    // An empty context line still carries its leading space; '' is only the final newline.
    if (line === '') continue;
    const op = line[0];
    if (op === '-' || op === '+' || op === ' ') edits.push({ op, text: line.slice(1) });
  }
  flush();
  return rows;
}
