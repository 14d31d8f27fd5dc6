// Turning API problems (application/problem+json) into messages a person can
// act on, placed next to the field they are about.

/** One field problem as the API reports it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Converts an API field path ("then.forward[1].weight") into the path the
 * forms use for the same value ("then.forward.1.weight"): Mantine form paths
 * address list elements with a dotted index.
 */
export function apiPathToFormPath(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}

/**
 * Splits problems into errors the form can show beside a field and the rest,
 * which the caller shows at the top. `known` says whether a form path is a
 * field on screen; a problem deeper than any known field is pinned to the
 * closest known ancestor so it is still seen next to something relevant.
 * Several problems on one field are joined.
 */
export function problemsToFormErrors(
  problems: FieldProblem[],
  known: (formPath: string) => boolean,
): { fieldErrors: Record<string, string>; other: FieldProblem[] } {
  const fieldErrors: Record<string, string> = {};
  const other: FieldProblem[] = [];
  for (const p of problems) {
    let path = apiPathToFormPath(p.field ?? '');
    let message = p.message;
    while (path && !known(path)) {
      const cut = path.lastIndexOf('.');
      const tail = path.slice(cut + 1);
      path = cut < 0 ? '' : path.slice(0, cut);
      // Say which part of the value the message was about once it moves up.
      if (path && !/^\d+$/.test(tail)) message = `${tail}: ${message}`;
    }
    if (!path) {
      other.push(p);
      continue;
    }
    fieldErrors[path] = fieldErrors[path] ? `${fieldErrors[path]}; ${message}` : message;
  }
  return { fieldErrors, other };
}

/**
 * Picks the problems about the condition tree ("when...") and keys them by the
 * node path the condition builder uses ("" for the root, "all.1", "all.1.not").
 * The part after the node ("value", "op") stays in the message's field.
 */
export function conditionProblems(problems: FieldProblem[]): Map<string, FieldProblem[]> {
  const out = new Map<string, FieldProblem[]>();
  for (const p of problems) {
    if (p.field !== 'when' && !p.field.startsWith('when.') && !p.field.startsWith('when[')) continue;
    const parts = apiPathToFormPath(p.field).split('.').slice(1);
    const node: string[] = [];
    let leaf = '';
    for (let i = 0; i < parts.length; i++) {
      const s = parts[i];
      if ((s === 'all' || s === 'any') && /^\d+$/.test(parts[i + 1] ?? '')) {
        node.push(s, parts[i + 1]);
        i++;
      } else if (s === 'not') {
        node.push(s);
      } else {
        leaf = parts.slice(i).join('.');
        break;
      }
    }
    const key = node.join('.');
    const list = out.get(key) ?? [];
    list.push({ field: leaf, message: p.message });
    out.set(key, list);
  }
  return out;
}

/**
 * Problems from POST /validate about a one-object workspace are addressed
 * into it ("routes[0].then.timeout"); this makes them relative to the object
 * ("then.timeout"), as a save would report them. Problems about other
 * objects keep their path.
 */
export function relativeTo(prefix: string, problems: FieldProblem[]): FieldProblem[] {
  return problems.map((p) =>
    p.field === prefix ? { ...p, field: '' } : p.field.startsWith(prefix + '.') ? { ...p, field: p.field.slice(prefix.length + 1) } : p,
  );
}
