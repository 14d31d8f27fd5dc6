import { Alert, Badge, Button, Group, Kbd, Stack, Text, Title } from '@mantine/core';
import { useHotkeys } from '@mantine/hooks';
import type { UseFormReturnType } from '@mantine/form';
import { IconAlertTriangle, IconDeviceFloppy, IconTrash } from '@tabler/icons-react';
import { useEffect, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router';
import { useCanEdit } from '../auth';
import { ApiError, friendlyMessage } from '../lib/api';
import { MOD_KEY } from '../lib/format';
import { problemsToFormErrors, type FieldProblem } from '../lib/problems';
import { useDeleteObject, useSaveObject, type ObjectCollection } from '../lib/queries';
import { modalsConfirm } from './confirm';
import { notifyOutcome } from '../lib/notify';

/** What the shell needs to know about one kind of object. */
export interface ObjectKind<V, T extends { name: string; version?: number }> {
  collection: ObjectCollection;
  /** "upstream": used in titles and messages. */
  label: string;
  toObject: (values: V) => T;
  /** Whether a form path is an input that can show an error. */
  known: (values: V) => (path: string) => boolean;
}

/**
 * Save, delete, Ctrl/Cmd+S, server problems beside their fields and version
 * conflicts for the gateway, upstream and secret editors (the route editor
 * does the same for routes).
 */
export function useObjectEditor<V extends { name: string; version?: number }, T extends { name: string; version?: number }>(
  kind: ObjectKind<V, T>,
  form: UseFormReturnType<V>,
  isNew: boolean,
) {
  const canEdit = useCanEdit();
  const nav = useNavigate();
  const save = useSaveObject<T>(kind.collection);
  const remove = useDeleteObject(kind.collection);
  const [otherErrors, setOtherErrors] = useState<FieldProblem[]>([]);
  const [conflict, setConflict] = useState(false);

  const applyProblems = (problems: FieldProblem[]) => {
    const { fieldErrors, other } = problemsToFormErrors(problems, kind.known(form.values));
    form.setErrors(fieldErrors);
    setOtherErrors(other);
  };

  const submit = async () => {
    if (!canEdit || form.validate().hasErrors) return;
    try {
      const saved = await save.mutateAsync({ obj: kind.toObject(form.values), isNew });
      applyProblems([]);
      setConflict(false);
      form.setFieldValue('version' as never, saved.version as never);
      form.resetDirty({ ...form.values, version: saved.version });
      notifyOutcome(`editor:${kind.collection}`, { color: 'green', title: 'Saved', message: `The ${kind.label} ${saved.name} is saved to the draft.` });
      if (isNew) nav(`/${kind.collection}/${encodeURIComponent(saved.name)}`, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.errors.length > 0) applyProblems(e.errors);
      else setOtherErrors([]);
      setConflict(e instanceof ApiError && e.status === 409);
      notifyOutcome(`editor:${kind.collection}`, { color: 'red', title: isNew ? `Could not create the ${kind.label}` : `Could not save the ${kind.label}`, message: friendlyMessage(e) });
    }
  };

  useHotkeys([['mod+S', () => void submit()]], [], true);

  const onDelete = () =>
    modalsConfirm(`Delete ${kind.label} ${form.values.name}?`, 'It disappears from the draft; the live configuration changes only when you publish.', async () => {
      try {
        await remove.mutateAsync({ name: form.values.name, version: form.values.version });
        notifyOutcome(`editor:${kind.collection}`, { color: 'green', title: 'Deleted', message: `The ${kind.label} ${form.values.name} is deleted from the draft.` });
        nav(`/${kind.collection}`);
      } catch (e) {
        setConflict(e instanceof ApiError && e.status === 409);
        notifyOutcome(`editor:${kind.collection}`, { color: 'red', title: 'Could not delete', message: friendlyMessage(e) });
      }
    });

  const dirty = form.isDirty();
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  return { canEdit, submit, onDelete, saving: save.isPending, otherErrors, conflict, dirty };
}

/** The editor's frame: title, version, save/delete, conflict and refusal notices, then the fields. */
export function ObjectEditorShell({
  title,
  isNew,
  label,
  editor,
  version,
  onReload,
  children,
}: {
  title: string;
  isNew: boolean;
  label: string;
  editor: ReturnType<typeof useObjectEditor>;
  version?: number;
  onReload: () => void;
  children: ReactNode;
}) {
  const { canEdit, submit, onDelete, saving, otherErrors, conflict, dirty } = editor;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <Stack maw={1100}>
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={3}>{title}</Title>
            {!isNew && <Badge variant="light">v{version}</Badge>}
            {dirty && <Badge color="yellow" variant="light">unsaved</Badge>}
          </Group>
          {canEdit && (
            <Group gap="xs">
              {!isNew && <Button variant="subtle" color="red" leftSection={<IconTrash size={14} />} onClick={onDelete}>Delete</Button>}
              <Button type="submit" leftSection={<IconDeviceFloppy size={16} />} loading={saving}>
                Save <Kbd ml={6} size="xs">{MOD_KEY} S</Kbd>
              </Button>
            </Group>
          )}
        </Group>
        {conflict && (
          <Alert color="orange" icon={<IconAlertTriangle size={16} />} title="Changed by someone else" role="alert">
            <Group justify="space-between">
              <Text size="sm">This {label} was changed by someone else since you opened it. Load their version to see it; your unsaved edits here are dropped.</Text>
              <Button size="xs" variant="light" color="orange" onClick={onReload}>Load the latest version</Button>
            </Group>
          </Alert>
        )}
        {otherErrors.length > 0 && (
          <Alert color="red" icon={<IconAlertTriangle size={16} />} title={`The server refused the ${label}`} role="alert">
            {otherErrors.map((p, i) => (
              <Text key={i} size="sm">{p.field ? <b className="mono">{p.field}: </b> : null}{p.message}</Text>
            ))}
          </Alert>
        )}
        {children}
      </Stack>
    </form>
  );
}

/** An error the form holds for a path that has no input of its own (a list, a section). */
export function SectionError({ error }: { error: ReactNode }) {
  if (!error) return null;
  return <Text size="xs" c="red" role="alert">{error}</Text>;
}
