import { ActionIcon, Button, Checkbox, Group, SegmentedControl, Select, Stack, TagsInput, Text, TextInput, Tooltip } from '@mantine/core';
import { IconBracketsContain, IconPlus, IconTrash } from '@tabler/icons-react';
import { useEffect, useRef, useState } from 'react';
import { isListOp, isNullaryOp, KEYED_FIELDS, normalizeCondition } from '../lib/conditionText';
import { opsFor, retargetRow } from '../lib/conditionOps';
import type { Condition } from '../lib/model';
import type { FieldProblem } from '../lib/problems';

// The builder edits a tree whose root is always a group, and keeps groups the
// user has just created even while they hold a single row; what it reports
// upwards is the normalised tree, which is what the text form prints.

const FIELD_KINDS = [
  { value: 'host', label: 'host' },
  { value: 'path', label: 'path' },
  { value: 'method', label: 'method' },
  { value: 'scheme', label: 'scheme' },
  { value: 'header', label: 'header' },
  { value: 'query', label: 'query' },
  { value: 'cookie', label: 'cookie' },
  { value: 'grpc', label: 'grpc (is gRPC)' },
  { value: 'grpc.service', label: 'grpc.service' },
  { value: 'grpc.method', label: 'grpc.method' },
];

const OP_LABELS: Record<string, string> = {
  equals: 'equals',
  'not-equals': 'does not equal',
  prefix: 'starts with',
  suffix: 'ends with',
  contains: 'contains',
  regex: 'matches regex',
  in: 'is one of',
  'not-in': 'is none of',
  present: 'is present',
  absent: 'is absent',
  exact: 'is exactly',
  'segment-prefix': 'starts with segment',
  template: 'matches template',
};

function splitField(f: string | undefined): { kind: string; key: string } {
  const v = f ?? '';
  const i = v.indexOf('[');
  if (i > 0 && v.endsWith(']')) return { kind: v.slice(0, i), key: v.slice(i + 1, -1) };
  return { kind: v || 'path', key: '' };
}

const isGroup = (c: Condition) => !!(c.all || c.any);

/** Wraps whatever the route has in a root group the builder can edit. */
function toRoot(c: Condition | undefined): { root: Condition; wrapped: boolean } {
  if (c && isGroup(c)) return { root: structuredClone(c), wrapped: false };
  if (!c || (!c.not && !c.field && !c.op)) return { root: { all: [] }, wrapped: false };
  return { root: { all: [structuredClone(c)] }, wrapped: true };
}

const newRow = (): Condition => ({ field: 'path', op: 'prefix', value: '/' });

type Errors = Map<string, FieldProblem[]>;

export interface ConditionBuilderProps {
  value: Condition;
  onChange: (c: Condition) => void;
  /** Problems from the server keyed by node path (see conditionProblems). */
  errors?: Errors;
  readOnly?: boolean;
}

/** Rows of field / operator / value in AND and OR groups, with NOT on any row or group. */
export function ConditionBuilder({ value, onChange, errors, readOnly }: ConditionBuilderProps) {
  const [{ root, wrapped }, setState] = useState(() => toRoot(value));
  const lastEmitted = useRef(JSON.stringify(normalizeCondition(root)));
  const [focusPath, setFocusPath] = useState<string | null>(null);

  // Take the value from outside only when it differs from what we last sent,
  // so a half-built group is not flattened under the user's hands.
  useEffect(() => {
    const incoming = JSON.stringify(normalizeCondition(value));
    if (incoming !== lastEmitted.current) {
      lastEmitted.current = incoming;
      setState(toRoot(value));
    }
  }, [value]);

  const update = (next: Condition) => {
    setState({ root: next, wrapped });
    const norm = normalizeCondition(next);
    lastEmitted.current = JSON.stringify(norm);
    onChange(norm);
  };

  // A problem on the route's single predicate arrives at the root path; in the
  // builder that predicate sits inside the root group.
  const errorsAt = (path: string): FieldProblem[] | undefined =>
    errors?.get(path) ?? (wrapped && path === 'all.0' ? errors?.get('') : undefined) ?? undefined;

  return (
    <Stack gap="xs" data-testid="condition-builder">
      <GroupNode
        node={root}
        path=""
        isRoot
        onChange={update}
        errorsAt={errorsAt}
        readOnly={readOnly}
        focusPath={focusPath}
        setFocusPath={setFocusPath}
      />
    </Stack>
  );
}

interface NodeProps {
  node: Condition;
  path: string;
  onChange: (c: Condition) => void;
  onRemove?: () => void;
  onAddAfter?: () => void;
  errorsAt: (path: string) => FieldProblem[] | undefined;
  readOnly?: boolean;
  isRoot?: boolean;
  negated?: boolean;
  onToggleNot?: () => void;
  focusPath: string | null;
  setFocusPath: (p: string | null) => void;
}

const join = (a: string, b: string) => (a ? `${a}.${b}` : b);

function ChildNode(props: NodeProps) {
  const { node, path, onChange } = props;
  if (node.not) {
    const inner = node.not;
    const innerProps: NodeProps = {
      ...props,
      node: inner,
      path: join(path, 'not'),
      onChange: (c) => onChange({ not: c }),
      negated: true,
      onToggleNot: () => onChange(inner),
    };
    return <ChildNode {...innerProps} />;
  }
  const withNot = { ...props, onToggleNot: props.onToggleNot ?? (() => onChange({ not: node })) };
  return isGroup(node) ? <GroupNode {...withNot} /> : <PredicateRow {...withNot} />;
}

function GroupNode({ node, path, onChange, onRemove, errorsAt, readOnly, isRoot, negated, onToggleNot, focusPath, setFocusPath }: NodeProps) {
  const kind: 'all' | 'any' = node.any ? 'any' : 'all';
  const kids = node[kind] ?? [];
  const setKids = (next: Condition[]) => onChange({ [kind]: next });
  const add = (c: Condition, at = kids.length) => {
    const next = [...kids];
    next.splice(at, 0, c);
    setKids(next);
    setFocusPath(join(path, `${kind}.${at}`));
  };
  const problems = errorsAt(path);
  return (
    <div className={`cond-group ${kind}${negated ? ' not' : ''}`} role="group" aria-label={isRoot ? 'Conditions' : 'Condition group'}>
      <Group gap="xs" mb={6}>
        {negated && <Text fw={700} c="red" size="sm">NOT</Text>}
        <SegmentedControl
          size="xs"
          value={kind}
          disabled={readOnly}
          onChange={(v) => onChange({ [v]: kids })}
          data={[
            { value: 'all', label: 'All of (AND)' },
            { value: 'any', label: 'Any of (OR)' },
          ]}
          aria-label="Group kind"
        />
        {!readOnly && (
          <>
            <Button size="compact-xs" variant="light" leftSection={<IconPlus size={12} />} onClick={() => add(newRow())}>Condition</Button>
            <Button size="compact-xs" variant="light" leftSection={<IconBracketsContain size={12} />} onClick={() => add({ [kind === 'all' ? 'any' : 'all']: [newRow()] })}>Group</Button>
            {!isRoot && onToggleNot && (
              <Button size="compact-xs" variant={negated ? 'filled' : 'subtle'} color="red" onClick={onToggleNot} aria-pressed={negated}>NOT</Button>
            )}
            {!isRoot && onRemove && (
              <ActionIcon size="sm" variant="subtle" color="gray" onClick={onRemove} aria-label="Remove group"><IconTrash size={14} /></ActionIcon>
            )}
          </>
        )}
      </Group>
      {problems?.map((p, i) => (
        <Text key={i} c="red" size="xs" role="alert">{p.field ? `${p.field}: ` : ''}{p.message}</Text>
      ))}
      <Stack gap={6}>
        {kids.length === 0 && <Text size="sm" c="dimmed">No conditions: matches every request.</Text>}
        {kids.map((k, i) => (
          <ChildNode
            key={i}
            node={k}
            path={join(path, `${kind}.${i}`)}
            onChange={(c) => setKids(kids.map((x, j) => (j === i ? c : x)))}
            onRemove={() => setKids(kids.filter((_, j) => j !== i))}
            onAddAfter={() => add(newRow(), i + 1)}
            errorsAt={errorsAt}
            readOnly={readOnly}
            focusPath={focusPath}
            setFocusPath={setFocusPath}
          />
        ))}
      </Stack>
    </div>
  );
}

function PredicateRow({ node, path, onChange, onRemove, onAddAfter, errorsAt, readOnly, negated, onToggleNot, focusPath, setFocusPath }: NodeProps) {
  const { kind, key } = splitField(node.field);
  const keyed = (KEYED_FIELDS as readonly string[]).includes(kind);
  const ops = opsFor(kind);
  const op = node.op ?? ops[0];
  const problems = errorsAt(path) ?? [];
  const errFor = (f: string) => problems.filter((p) => p.field === f || p.field.startsWith(f + '.')).map((p) => p.message).join('; ') || undefined;
  const general = problems.filter((p) => !['field', 'op', 'value', 'values'].some((f) => p.field === f || p.field.startsWith(f + '.')));
  const fieldRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (focusPath === path) {
      fieldRef.current?.focus();
      setFocusPath(null);
    }
  }, [focusPath, path, setFocusPath]);

  const set = (patch: Partial<Condition>) => {
    const next: Condition = { ...node, ...patch };
    if (isListOp(next.op)) {
      next.values = next.values ?? (next.value ? [next.value] : []);
      delete next.value;
    } else if (isNullaryOp(next.op)) {
      delete next.value;
      delete next.values;
    } else {
      next.value = next.value ?? next.values?.[0] ?? '';
      delete next.values;
    }
    if (!next.ignoreCase) delete next.ignoreCase;
    onChange(next);
  };
  const setKind = (k: string) => {
    const field = (KEYED_FIELDS as readonly string[]).includes(k) ? `${k}[${key}]` : k;
    const next = retargetRow({ ...node, op }, field, kind, k);
    onChange({ ...next, ...(isListOp(next.op) ? { values: next.values ?? [] } : isNullaryOp(next.op) ? {} : { value: next.value ?? '' }) });
  };
  // Enter in the value adds the next row, so a list of conditions can be typed without the mouse.
  const onValueKey = (e: React.KeyboardEvent) => {
    if (e.key === 'Enter' && !e.nativeEvent.isComposing && onAddAfter && !readOnly) {
      e.preventDefault();
      onAddAfter();
    }
  };

  return (
    <div data-testid="condition-row" data-path={path}>
      <Group gap={6} align="flex-start" wrap="nowrap">
        {negated && <Text fw={700} c="red" size="sm" mt={6}>NOT</Text>}
        <Select
          ref={fieldRef}
          aria-label="Field"
          data={FIELD_KINDS}
          value={kind}
          onChange={(v) => v && setKind(v)}
          w={150}
          size="xs"
          allowDeselect={false}
          disabled={readOnly}
          error={errFor('field')}
        />
        {keyed && (
          <TextInput
            aria-label={`${kind} name`}
            placeholder={kind === 'header' ? 'x-canary' : 'name'}
            value={key}
            onChange={(e) => set({ field: `${kind}[${e.currentTarget.value}]` })}
            w={130}
            size="xs"
            disabled={readOnly}
          />
        )}
        <Select
          aria-label="Operator"
          // An operator read from text that the builder does not offer for this field is kept on the list.
          data={(ops.includes(op) ? ops : [...ops, op]).map((o) => ({ value: o, label: OP_LABELS[o] ?? o }))}
          value={op}
          onChange={(v) => v && set({ op: v })}
          w={170}
          size="xs"
          allowDeselect={false}
          disabled={readOnly}
          error={errFor('op')}
        />
        {isListOp(op) ? (
          <TagsInput
            aria-label="Values"
            placeholder="type and press Enter"
            value={node.values ?? []}
            onChange={(v) => set({ values: v })}
            style={{ flex: 1 }}
            size="xs"
            disabled={readOnly}
            error={errFor('values')}
          />
        ) : isNullaryOp(op) ? (
          <div style={{ flex: 1 }} />
        ) : (
          <TextInput
            aria-label="Value"
            className="mono"
            value={node.value ?? ''}
            onChange={(e) => set({ value: e.currentTarget.value })}
            onKeyDown={onValueKey}
            style={{ flex: 1 }}
            size="xs"
            disabled={readOnly}
            error={errFor('value')}
          />
        )}
        {!isNullaryOp(op) && (
          <Tooltip label="Ignore case">
            <Checkbox
              mt={6}
              size="xs"
              aria-label="Ignore case"
              label="Aa"
              checked={!!node.ignoreCase}
              onChange={(e) => set({ ignoreCase: e.currentTarget.checked })}
              disabled={readOnly}
            />
          </Tooltip>
        )}
        {!readOnly && (
          <>
            {onToggleNot && (
              <Button size="compact-xs" mt={3} variant={negated ? 'filled' : 'subtle'} color="red" onClick={onToggleNot} aria-pressed={negated} aria-label="Negate condition">NOT</Button>
            )}
            {onRemove && (
              <ActionIcon mt={3} size="sm" variant="subtle" color="gray" onClick={onRemove} aria-label="Remove condition"><IconTrash size={14} /></ActionIcon>
            )}
          </>
        )}
      </Group>
      {general.map((p, i) => (
        <Text key={i} c="red" size="xs" role="alert">{p.field ? `${p.field}: ` : ''}{p.message}</Text>
      ))}
    </div>
  );
}
