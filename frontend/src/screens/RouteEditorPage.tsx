import { Alert, Badge, Button, Fieldset, Group, Kbd, MultiSelect, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useHotkeys } from '@mantine/hooks';
import { modalsConfirm } from '../components/confirm';
import { IconAlertTriangle, IconChecks, IconDeviceFloppy, IconTrash } from '@tabler/icons-react';
import { useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useCanEdit } from '../auth';
import { ActionForm, PoliciesForm, cleanAction, isRouteFormField, type RouteFormValues } from '../components/ActionForm';
import { PolicyForms } from '../components/PolicyForms';
import { ConditionBuilder } from '../components/ConditionBuilder';
import { MOD_KEY } from '../lib/format';
import { ConditionTextEditor } from '../components/ConditionTextEditor';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { useUnsavedGuard } from '../components/UnsavedGuard';
import { ApiError, friendlyMessage, post } from '../lib/api';
import { formatCondition, normalizeCondition, tryParseCondition, type ConditionSyntaxError } from '../lib/conditionText';
import type { Condition, Route } from '../lib/model';
import { conditionProblems, problemsToFormErrors, relativeTo, type FieldProblem } from '../lib/problems';
import { isShadowed, useDeleteRoute, useGateways, useLint, useRoute, useSaveRoute, useUpstreams, witnessText, type LintFix, type LintWitness } from '../lib/queries';
import { useCurrentGateway } from '../gateway';
import { notifyOutcome } from '../lib/notify';
import { isPathConditionProblem, pathConditionProblem } from '../lib/pathRewrite';
import { RuleTrafficCharts } from '../components/RuleTrafficCharts';

/** /routes/new and /routes/:name: loads the route, then shows the editor. */
export default function RouteEditorPage() {
  const { name } = useParams();
  const route = useRoute(name);
  const { gateway } = useCurrentGateway();
  // Bumped to start the editor over from the server's copy after a conflict.
  const [generation, setGeneration] = useState(0);
  if (name && route.isPending) return <DelayedLoader />;
  if (name && route.isError) return <ErrorNotice error={route.error} title={`Cannot open route ${name}`} />;
  const initial: Route = route.data ?? { name: '', gateway: gateway ?? '', priority: 100, then: { forward: [{ upstream: '', weight: 100 }] } };
  const reload = async () => {
    await route.refetch();
    setGeneration((g) => g + 1);
  };
  return <RouteEditor key={`${name ?? ''}#${generation}`} initial={initial} isNew={!name} onReload={reload} />;
}

/** The condition of a route as the builder wants it: the tree, parsed from text if needed. */
function initialTree(r: Route): Condition {
  if (typeof r.when === 'string') {
    const p = tryParseCondition(r.when);
    return 'tree' in p ? p.tree : {};
  }
  return normalizeCondition(r.when ?? {});
}

/** Edits one route: name and placement, the condition (builder or text), action and policies. */
export function RouteEditor({ initial, isNew, onReload }: { initial: Route; isNew: boolean; onReload: () => void }) {
  const canEdit = useCanEdit();
  const nav = useNavigate();
  const gws = useGateways();
  const ups = useUpstreams();
  const save = useSaveRoute();
  const remove = useDeleteRoute();
  const upstreamNames = ups.data?.items.map((u) => u.name) ?? [];
  // Lint looks at the saved draft, so it speaks of the route as saved.
  const lint = useLint(isNew ? undefined : initial.gateway);
  const findings = isNew ? [] : (lint.data?.items ?? []).filter((f) => f.rule === initial.name);
  const shadowed = findings.find(isShadowed);
  const others = findings.filter((f) => !isShadowed(f));
  const notes = isNew ? [] : (lint.data?.notes ?? []).filter((n) => n.rule === initial.name);

  const form = useForm<RouteFormValues>({
    initialValues: {
      name: initial.name,
      version: initial.version,
      gateway: initial.gateway,
      listeners: initial.listeners ?? [],
      priority: initial.priority ?? 0,
      description: initial.description ?? '',
      disabled: initial.disabled ?? false,
      then: initial.then ?? {},
    },
    validate: {
      name: (v) => (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(v) ? null : 'Use lower-case letters, digits, "-" and "."'),
      gateway: (v) => (v ? null : 'Pick a gateway'),
    },
  });

  // The condition lives outside the form: the builder and the text editor
  // both edit it, and whichever the user typed in last is the source.
  const [tree, setTree] = useState<Condition>(() => initialTree(initial));
  const [mode, setMode] = useState<'builder' | 'text'>('builder');
  const [text, setText] = useState(() => formatCondition(initialTree(initial)));
  const [syntaxError, setSyntaxError] = useState<ConditionSyntaxError | null>(null);
  const [condErrors, setCondErrors] = useState<Map<string, FieldProblem[]>>(new Map());
  const [otherErrors, setOtherErrors] = useState<FieldProblem[]>([]);
  const [dirtyWhen, setDirtyWhen] = useState(false);
  const [conflict, setConflict] = useState(false);

  const onTree = (c: Condition) => {
    setTree(c);
    setText(formatCondition(c));
    setSyntaxError(null);
    setDirtyWhen(true);
  };
  const onText = (t: string) => {
    setText(t);
    setDirtyWhen(true);
    const p = tryParseCondition(t);
    if ('tree' in p) {
      setTree(p.tree);
      setSyntaxError(null);
    } else {
      setSyntaxError(p.error);
    }
  };

  const applyProblems = (all: FieldProblem[]) => {
    // A rewrite that lacks its path condition is shown on `when` (pathProblem below).
    const problems = all.filter((p) => !isPathConditionProblem(p.field, p.message));
    setCondErrors(conditionProblems(problems));
    const rest = problems.filter((p) => !(p.field === 'when' || p.field.startsWith('when.') || p.field.startsWith('when[')));
    const { fieldErrors, other } = problemsToFormErrors(rest, isRouteFormField);
    form.setErrors(fieldErrors);
    setOtherErrors(other);
  };

  const currentRoute = (): Route => {
    const v = form.values;
    return {
      name: v.name,
      version: v.version,
      gateway: v.gateway,
      listeners: v.listeners?.length ? v.listeners : undefined,
      priority: Number(v.priority) || 0,
      description: v.description || undefined,
      disabled: v.disabled || undefined,
      when: tree,
      then: cleanAction(v.then),
    };
  };

  // Asks the server whether the route would be accepted, storing nothing.
  const [checking, setChecking] = useState(false);
  const check = async () => {
    if (syntaxError || form.validate().hasErrors) return;
    setChecking(true);
    try {
      const route = currentRoute();
      delete route.version;
      await post('/validate', { routes: [route] });
      applyProblems([]);
      notifyOutcome('editor:routes', { color: 'green', title: 'Looks good', message: 'The server accepts this route as it is.' });
    } catch (e) {
      if (e instanceof ApiError && e.errors.length > 0) applyProblems(relativeTo('routes[0]', e.errors));
      notifyOutcome('editor:routes', { color: 'red', title: 'The route has problems', message: friendlyMessage(e) });
    } finally {
      setChecking(false);
    }
  };

  // Saves the route; true when it was saved. `leaving`: the user is on
  // the way to another screen, so a new route does not open its own page.
  const submit = async (leaving = false): Promise<boolean> => {
    if (!canEdit) return false;
    if (syntaxError) {
      notifyOutcome('editor:routes', { color: 'red', title: 'Condition has a syntax error', message: 'Fix the condition text before saving.' });
      return false;
    }
    if (form.validate().hasErrors) return false;
    const route = currentRoute();
    try {
      const saved = await save.mutateAsync({ route, isNew, originalName: initial.name });
      applyProblems([]);
      // The saved version is the new baseline: carry it, and nothing is unsaved.
      form.setFieldValue('version', saved.version);
      form.resetDirty({ ...form.values, version: saved.version });
      setDirtyWhen(false);
      notifyOutcome('editor:routes', { color: 'green', title: 'Saved', message: `Route ${saved.name} saved to the draft.` });
      if (isNew && !leaving) {
        guard.release();
        nav(`/routes/${encodeURIComponent(saved.name)}`, { replace: true });
      }
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.errors.length > 0) applyProblems(e.errors);
      else setOtherErrors([]);
      setConflict(e instanceof ApiError && e.status === 409);
      notifyOutcome('editor:routes', { color: 'red', title: isNew ? 'Could not create the route' : 'Could not save the route', message: friendlyMessage(e) });
      return false;
    }
  };

  useHotkeys([['mod+S', () => void submit()]], [], true);
  const dirty = form.isDirty() || dirtyWhen;
  const guard = useUnsavedGuard(dirty && canEdit, () => submit(true));

  const onDelete = () =>
    modalsConfirm(`Delete route ${initial.name}?`, 'It disappears from the draft; the live configuration changes only when you publish.', async () => {
      try {
        await remove.mutateAsync({ ...initial, version: form.values.version });
        notifyOutcome('editor:routes', { color: 'green', title: 'Deleted', message: `Route ${initial.name} deleted from the draft.` });
        guard.release();
        nav('/routes');
      } catch (e) {
        notifyOutcome('editor:routes', { color: 'red', title: 'Could not delete', message: friendlyMessage(e) });
      }
    });

  const pathProblem = pathConditionProblem(tree, form.values.then);

  // A lint fix names one field of the rule: the condition (as text) or a field of then.
  const applyFix = (fix: LintFix) => {
    if (fix.field === 'when') {
      onText(fix.value);
      return;
    }
    form.setFieldValue(fix.field as never, fix.value as never);
  };

  const gatewayNames = useMemo(() => gws.data?.items.map((g) => g.name) ?? [], [gws.data]);
  // The chosen gateway's listeners, plus any the route names that it does
  // not have (after a gateway change), so they show and can be removed.
  const chosenListeners = form.values.listeners;
  const listenerOptions = useMemo(() => {
    const gw = gws.data?.items.find((g) => g.name === form.values.gateway);
    const opts = (gw?.listeners ?? []).map((l) => ({ value: l.name, label: `${l.name} (${l.protocol} ${l.port})` }));
    for (const name of chosenListeners ?? []) {
      if (!opts.some((o) => o.value === name)) opts.push({ value: name, label: `${name} (not on this gateway)` });
    }
    return opts;
  }, [gws.data, form.values.gateway, chosenListeners]);

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
      // Enter in a text box (a picked upstream, a typed timeout) must not
      // save the whole route: Save and the shortcut do.
      onKeyDown={(e) => {
        if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey && e.target instanceof HTMLInputElement) e.preventDefault();
      }}
    >
      {guard.prompt}
      <Stack maw={1100}>
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={3}>{isNew ? 'New route' : initial.name}</Title>
            {!isNew && <Badge variant="light">v{form.values.version}</Badge>}
            {dirty && <Badge color="yellow" variant="light">unsaved</Badge>}
          </Group>
          {canEdit && (
            <Group gap="xs">
              {!isNew && <Button variant="subtle" color="red" leftSection={<IconTrash size={14} />} onClick={onDelete}>Delete</Button>}
              <Button variant="default" leftSection={<IconChecks size={16} />} loading={checking} onClick={() => void check()}>Check</Button>
              <Button type="submit" leftSection={<IconDeviceFloppy size={16} />} loading={save.isPending}>
                Save <Kbd ml={6} size="xs">{MOD_KEY} S</Kbd>
              </Button>
            </Group>
          )}
        </Group>

        {shadowed && (
          <Alert color="yellow" icon={<IconAlertTriangle size={16} />} role="alert" data-testid="shadowed-alert">
            <Text size="sm">
              Never matches: rule <Link className="mono" to={`/routes/${encodeURIComponent(shadowed.shadowedBy)}`}>{shadowed.shadowedBy}</Link>, tried earlier, matches every request this one does.
              Give this rule a higher priority or a narrower condition, or delete it.
            </Text>
            {shadowed.witness && <WitnessLine witness={shadowed.witness} takenBy={shadowed.shadowedBy} />}
          </Alert>
        )}
        {others.map((f, i) => (
          <Alert key={i} color={f.severity === 'error' ? 'red' : 'yellow'} icon={<IconAlertTriangle size={16} />} role="alert" data-testid="lint-finding">
            <Group justify="space-between" wrap="nowrap">
              <Text size="sm">{sentence(f.message)}{f.fix ? ` ${sentence(f.fix.message)}` : ''}</Text>
              {f.fix && canEdit && (
                <Button size="xs" variant="light" style={{ flexShrink: 0 }} onClick={() => applyFix(f.fix!)}>
                  Set {f.fix.field === 'when' ? 'the condition' : f.fix.field.replace(/^then\./, '')} to <span className="mono" style={{ marginLeft: 4 }}>{f.fix.value}</span>
                </Button>
              )}
            </Group>
            {f.witness && <WitnessLine witness={f.witness} />}
          </Alert>
        ))}
        {notes.map((n, i) => (
          <Alert key={i} color="yellow" icon={<IconAlertTriangle size={16} />} role="note" data-testid="lint-note">
            <Text size="sm">{sentence(n.message)}</Text>
            {n.witness && <WitnessLine witness={n.witness} takenBy={n.shadowedBy} />}
          </Alert>
        ))}
        {conflict && (
          <Alert color="orange" icon={<IconAlertTriangle size={16} />} title="Changed by someone else" role="alert">
            <Group justify="space-between">
              <Text size="sm">This route was saved by someone else since you opened it. Load their version to see it; your unsaved edits here are dropped.</Text>
              <Button size="xs" variant="light" color="orange" onClick={onReload}>Load the latest version</Button>
            </Group>
          </Alert>
        )}
        {otherErrors.length > 0 && (
          <Alert color="red" icon={<IconAlertTriangle size={16} />} title="The server refused the route" role="alert">
            {otherErrors.map((p, i) => (
              <Text key={i} size="sm">{p.field ? <b className="mono">{p.field}: </b> : null}{p.message}</Text>
            ))}
          </Alert>
        )}

        {!isNew && <RuleTrafficCharts gateway={initial.gateway} rule={initial.name} />}

        <SimpleGrid cols={{ base: 1, md: 4 }}>
          <TextInput label="Name" required disabled={!isNew && !canEdit} readOnly={!isNew} {...form.getInputProps('name')} />
          <Select label="Gateway" required data={gatewayNames} disabled={!canEdit} {...form.getInputProps('gateway')} />
          <NumberInput label="Priority" description="Higher is tried first" disabled={!canEdit} {...form.getInputProps('priority')} />
          <Switch mt={32} label="Disabled" disabled={!canEdit} {...form.getInputProps('disabled', { type: 'checkbox' })} />
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <MultiSelect
            label="Listeners"
            description="Answer only on these listeners of the gateway; none chosen: every listener"
            placeholder={chosenListeners?.length ? undefined : 'Every listener'}
            data={listenerOptions}
            searchable
            clearable
            hidePickedOptions
            nothingFoundMessage="The gateway has no other listener"
            disabled={!canEdit}
            data-testid="route-listeners"
            {...form.getInputProps('listeners')}
          />
          <TextInput label="Description" disabled={!canEdit} {...form.getInputProps('description')} />
        </SimpleGrid>

        <Fieldset legend="When">
          <Stack gap="xs">
            <Group justify="space-between">
              <SegmentedControl
                size="xs"
                value={mode}
                onChange={(m) => setMode(m as 'builder' | 'text')}
                data={[
                  { value: 'builder', label: 'Builder', disabled: !!syntaxError && mode === 'text' },
                  { value: 'text', label: 'Text' },
                ]}
                aria-label="Condition editor"
              />
              {syntaxError && mode === 'text' && <Text size="xs" c="dimmed">Fix the text to go back to the builder.</Text>}
            </Group>
            {pathProblem && (
              <Alert color="red" p="xs" icon={<IconAlertTriangle size={16} />} role="alert" data-testid="when-path-problem">
                <Group justify="space-between" wrap="nowrap" gap="sm">
                  <Text size="sm">{pathProblem.message}</Text>
                  {pathProblem.fix && canEdit && (
                    <Button size="xs" variant="light" color="red" style={{ flexShrink: 0 }} onClick={() => onTree(pathProblem.fix!.tree)}>
                      {pathProblem.fix.label}
                    </Button>
                  )}
                </Group>
              </Alert>
            )}
            {mode === 'builder' ? (
              <>
                <ConditionBuilder value={tree} onChange={onTree} errors={condErrors} readOnly={!canEdit} />
                <Text size="xs" c="dimmed" className="mono" data-testid="condition-preview">{text || 'matches every request'}</Text>
              </>
            ) : (
              <>
                <ConditionTextEditor value={text} onChange={onText} error={syntaxError} readOnly={!canEdit} />
                {[...condErrors.entries()].map(([path, ps]) =>
                  ps.map((p, i) => (
                    <Text key={path + i} c="red" size="xs" role="alert">when{path ? '.' + path : ''}{p.field ? '.' + p.field : ''}: {p.message}</Text>
                  )),
                )}
              </>
            )}
          </Stack>
        </Fieldset>

        <ActionForm form={form} upstreams={upstreamNames} readOnly={!canEdit} />
        <PoliciesForm form={form} upstreams={upstreamNames} readOnly={!canEdit} />
        <PolicyForms form={form} upstreams={upstreamNames} readOnly={!canEdit} />
      </Stack>
    </form>
  );
}

/** A message of the server as a sentence: capital first, full stop last. */
function sentence(m: string): string {
  const t = m.trim();
  if (!t) return t;
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** The request that shows a lint finding, and the rule that takes it. */
function WitnessLine({ witness, takenBy }: { witness: LintWitness; takenBy?: string }) {
  const by = witness.takenBy ?? takenBy;
  return (
    <Text size="sm" mt={4} data-testid="lint-witness">
      For example <span className="mono">{witnessText(witness)}</span>
      {by ? <> is taken by rule <Link className="mono" to={`/routes/${encodeURIComponent(by)}`}>{by}</Link> before it reaches this one.</> : ' shows it.'}
    </Text>
  );
}
