import { ActionIcon, Alert, Button, Checkbox, Group, Select, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, friendlyMessage, put, seg } from '../lib/api';
import type { FieldProblem } from '../lib/problems';
import {
  EXPECT_LABELS,
  expectRows,
  headerRows,
  otherExpectations,
  rowsToExpect,
  rowsToHeaders,
  type ExpectKind,
  type ExpectRow,
  type RouteTest,
} from '../lib/routeTests';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const KINDS = (Object.keys(EXPECT_LABELS) as ExpectKind[]).map((k) => ({ value: k, label: EXPECT_LABELS[k] }));
const isHeader = (k: ExpectKind) => k === 'requestHeader' || k === 'responseHeader';

/**
 * Edits one saved route test: its request and what must happen to it.
 * The server's problems show beside the field they name; expectations the
 * form has no row for are kept.
 */
export function RouteTestEditor({ test, onSaved }: { test: RouteTest; onSaved: () => void }) {
  const qc = useQueryClient();
  const [description, setDescription] = useState(test.description ?? '');
  const [method, setMethod] = useState(test.request.method || 'GET');
  const [url, setUrl] = useState(test.request.url);
  const [headers, setHeaders] = useState(() => headerRows(test.request.headers));
  const [body, setBody] = useState(test.request.body ?? '');
  const [rows, setRows] = useState<ExpectRow[]>(() => expectRows(test.expect));
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const kept = otherExpectations(test.expect);

  const save = useMutation({
    mutationFn: () =>
      put<RouteTest>(`/tests/${seg(test.name)}`, {
        name: test.name,
        gateway: test.gateway,
        version: test.version,
        description: description || undefined,
        request: { method, url, headers: rowsToHeaders(headers), body: body || undefined },
        expect: rowsToExpect(rows, kept),
      }),
    onSuccess: (t) => {
      notifications.show({ color: 'green', title: 'Saved', message: `Route test ${t.name} saved.` });
      qc.invalidateQueries({ queryKey: ['tests'] });
      onSaved();
    },
    onError: (e) => setProblems(e instanceof ApiError && e.errors.length ? e.errors : [{ field: '', message: friendlyMessage(e) }]),
  });
  const errorOf = (...fields: string[]) =>
    problems.filter((p) => fields.some((f) => p.field === f || p.field.startsWith(f + '.') || p.field.startsWith(f + '['))).map((p) => p.message).join('; ') || undefined;
  // Problems no input on screen is about.
  const placed = (f: string) => /^(description|request\.(method|url|body|headers)|expect\.)/.test(f);
  const rest = problems.filter((p) => !placed(p.field));
  const setRow = (i: number, patch: Partial<ExpectRow>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const rowError = (r: ExpectRow) => {
    if (!isHeader(r.kind)) return errorOf(`expect.${r.kind}`);
    const key = r.kind === 'requestHeader' ? 'requestHeaders' : 'responseHeaders';
    return errorOf(`expect.${key}.${r.header}`, `expect.${key}[${r.header}]`);
  };

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setProblems([]);
        save.mutate();
      }}
    >
      <Stack gap="sm" data-testid="test-editor">
        {rest.length > 0 && (
          <Alert color="red" title="The server refused the test" role="alert">
            {rest.map((p, i) => (
              <Text key={i} size="sm">{p.field ? <b className="mono">{p.field}: </b> : null}{p.message}</Text>
            ))}
          </Alert>
        )}
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} error={errorOf('description')} />
        <Text size="sm" fw={500}>Request</Text>
        <Group gap="xs" align="flex-start" wrap="nowrap">
          <Select aria-label="Method" data={METHODS} value={method} onChange={(v) => v && setMethod(v)} w={110} allowDeselect={false} error={errorOf('request.method')} />
          <TextInput aria-label="URL" className="mono" value={url} onChange={(e) => setUrl(e.currentTarget.value)} style={{ flex: 1 }} error={errorOf('request.url')} />
        </Group>
        {headers.map((h, i) => (
          <Group key={i} gap="xs" wrap="nowrap">
            <TextInput aria-label={`Request header name ${i + 1}`} placeholder="name" className="mono" w={200} value={h.name}
              onChange={(e) => { const name = e.currentTarget.value; setHeaders(headers.map((x, j) => (j === i ? { ...x, name } : x))); }} />
            <TextInput aria-label={`Request header value ${i + 1}`} placeholder="value" className="mono" style={{ flex: 1 }} value={h.value}
              onChange={(e) => { const value = e.currentTarget.value; setHeaders(headers.map((x, j) => (j === i ? { ...x, value } : x))); }} />
            <ActionIcon variant="subtle" color="gray" aria-label={`Remove request header ${i + 1}`} onClick={() => setHeaders(headers.filter((_, j) => j !== i))}><IconTrash size={14} /></ActionIcon>
          </Group>
        ))}
        {errorOf('request.headers') && <Text c="red" size="xs" role="alert">{errorOf('request.headers')}</Text>}
        <Button size="compact-xs" variant="light" w="fit-content" leftSection={<IconPlus size={12} />} onClick={() => setHeaders([...headers, { name: '', value: '' }])}>Header</Button>
        {(body || ['POST', 'PUT', 'PATCH'].includes(method)) && (
          <Textarea label="Body" classNames={{ input: 'mono' }} autosize minRows={2} maxRows={8} value={body} onChange={(e) => setBody(e.currentTarget.value)} error={errorOf('request.body')} />
        )}

        <Text size="sm" fw={500}>Expect</Text>
        {rows.length === 0 && Object.keys(kept).length === 0 && <Text size="xs" c="red">A test must check at least one thing.</Text>}
        {rows.map((r, i) => (
          <Group key={i} gap="xs" align="flex-start" wrap="nowrap" data-testid="expect-row">
            <Select aria-label={`Expectation ${i + 1}`} data={KINDS} value={r.kind} w={220} allowDeselect={false}
              onChange={(v) => v && setRow(i, { kind: v as ExpectKind, header: isHeader(v as ExpectKind) ? (r.header ?? '') : undefined, absent: false })} />
            {isHeader(r.kind) && (
              <TextInput aria-label={`Expected header name ${i + 1}`} placeholder="header name" className="mono" w={170} value={r.header ?? ''} onChange={(e) => setRow(i, { header: e.currentTarget.value })} />
            )}
            <TextInput
              aria-label={`Expected value ${i + 1}`}
              className="mono"
              style={{ flex: 1 }}
              value={r.value}
              disabled={r.absent}
              placeholder={r.kind === 'rule' ? 'empty: no rule matches' : undefined}
              onChange={(e) => setRow(i, { value: e.currentTarget.value })}
              error={rowError(r)}
            />
            {isHeader(r.kind) && <Checkbox mt={8} label="absent" checked={!!r.absent} onChange={(e) => setRow(i, { absent: e.currentTarget.checked })} />}
            <ActionIcon mt={4} variant="subtle" color="gray" aria-label={`Remove expectation ${i + 1}`} onClick={() => setRows(rows.filter((_, j) => j !== i))}><IconTrash size={14} /></ActionIcon>
          </Group>
        ))}
        {Object.keys(kept).length > 0 && (
          <Text size="xs" c="dimmed" className="mono">Also checked, unchanged: {Object.keys(kept).join(', ')}</Text>
        )}
        <Button size="compact-xs" variant="light" w="fit-content" leftSection={<IconPlus size={12} />} onClick={() => setRows([...rows, { kind: 'status', value: '200' }])}>Expectation</Button>
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>Save test</Button>
        </Group>
      </Stack>
    </form>
  );
}
