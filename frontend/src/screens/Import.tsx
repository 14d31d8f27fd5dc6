import { Accordion, Alert, Badge, Button, Card, FileButton, Group, List, SegmentedControl, Select, SimpleGrid, Stack, Text, TextInput, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconFileImport, IconEye, IconUpload } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCanEdit } from '../auth';
import { modalsConfirm } from '../components/confirm';
import { ErrorNotice } from '../components/Loading';
import { useCurrentGateway } from '../gateway';
import { ApiError, post } from '../lib/api';
import { IMPORT_FORMATS, MAX_IMPORT_BYTES, guessFormat, importObjects, problemsByObject, type ImportFormat, type ImportRequest, type ImportResult } from '../lib/importing';
import { plural } from '../lib/format';
import { objectText } from '../lib/objectText';
import { keys, useGateways, useUpstreams } from '../lib/queries';

/**
 * Another tool's configuration (Gateway API, Ingress, Kong, OpenAPI) as
 * routes of a gateway: upload or paste the file, see what does not
 * translate and what applying would refuse, then apply it all or nothing.
 */
export default function Import() {
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const { gateway: current } = useCurrentGateway();
  const gws = useGateways();
  const ups = useUpstreams();
  const [format, setFormat] = useState<ImportFormat>('gateway-api');
  const [gateway, setGateway] = useState<string | null>(current ?? null);
  const [content, setContent] = useState('');
  const [fileName, setFileName] = useState<string | null>(null);
  const [openapi, setOpenapi] = useState({ upstream: '', host: '', prefix: '' });
  const [fileError, setFileError] = useState<string | null>(null);

  const request = (apply: boolean): ImportRequest => ({
    format,
    content,
    gateway: gateway ?? '',
    ...(apply ? { apply: true } : {}),
    ...(format === 'openapi' ? { openapi: { upstream: openapi.upstream, ...(openapi.host ? { host: openapi.host } : {}), ...(openapi.prefix ? { prefix: openapi.prefix } : {}) } } : {}),
  });
  const preview = useMutation({ mutationFn: () => post<ImportResult>('/import', request(false)) });
  const apply = useMutation({
    mutationFn: () => post<ImportResult>('/import', request(true)),
    onSuccess: (res) => {
      notifications.show({ color: 'green', title: 'Imported', message: `${plural(res.applied?.length ?? 0, 'object')} applied to the draft of ${gateway}. Publish to put them live.` });
      preview.reset();
      for (const k of [keys.routes, keys.upstreams, keys.revisions, keys.lints]) qc.invalidateQueries({ queryKey: k });
    },
  });
  // Anything changed makes the preview out of date.
  const edit = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    preview.reset();
    apply.reset();
  };

  const onFile = async (f: File | null) => {
    if (!f) return;
    setFileError(null);
    if (f.size > MAX_IMPORT_BYTES) {
      setFileError(`${f.name} is ${(f.size / (1 << 20)).toFixed(1)} MiB; at most 4 MiB are imported.`);
      return;
    }
    const text = await f.text();
    setFileName(f.name);
    edit(setContent)(text);
    const g = guessFormat(text);
    if (g) setFormat(g);
  };

  const res = preview.data;
  const errorFields = preview.error instanceof ApiError ? new Map(preview.error.errors.map((e) => [e.field, e.message])) : new Map<string, string>();
  const objects = res ? importObjects(res) : [];
  const byObject = res ? problemsByObject(res.problems) : new Map<string, string[]>();

  return (
    <Stack maw={1100}>
      <Title order={3}>Import</Title>
      <Card withBorder>
        <Stack gap="sm">
          <SegmentedControl
            value={format}
            onChange={(v) => edit(setFormat)(v as ImportFormat)}
            data={IMPORT_FORMATS.map((f) => ({ value: f.value, label: f.label }))}
            w="fit-content"
            aria-label="Format"
          />
          <Text size="sm" c="dimmed">{IMPORT_FORMATS.find((f) => f.value === format)?.help}</Text>
          <SimpleGrid cols={{ base: 1, md: format === 'openapi' ? 4 : 1 }} maw={format === 'openapi' ? undefined : 300}>
            <Select label="Gateway" required data={gws.data?.items.map((g) => g.name) ?? []} value={gateway} onChange={edit(setGateway)} error={errorFields.get('gateway')} />
            {format === 'openapi' && (
              <>
                <Select label="Upstream" description="Every route forwards here" required searchable data={ups.data?.items.map((u) => u.name) ?? []}
                  value={openapi.upstream || null} onChange={(v) => edit(setOpenapi)({ ...openapi, upstream: v ?? '' })} error={errorFields.get('openapi.upstream')} />
                <TextInput label="Host" description="Adds host == H to every route" placeholder="api.example.com" value={openapi.host}
                  onChange={(e) => edit(setOpenapi)({ ...openapi, host: e.currentTarget.value })} error={errorFields.get('openapi.host')} />
                <TextInput label="Path prefix" description="Default: the path of servers[0].url" placeholder="/" value={openapi.prefix}
                  onChange={(e) => edit(setOpenapi)({ ...openapi, prefix: e.currentTarget.value })} error={errorFields.get('openapi.prefix')} />
              </>
            )}
          </SimpleGrid>
          <Group gap="xs">
            <FileButton onChange={(f) => void onFile(f)} accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml,text/plain">
              {(props) => <Button {...props} variant="default" leftSection={<IconUpload size={16} />}>Upload a file</Button>}
            </FileButton>
            <Text size="sm" c="dimmed">{fileName ? `${fileName} · ` : ''}or paste it below</Text>
          </Group>
          {fileError && <Text c="red" size="sm" role="alert">{fileError}</Text>}
          <Textarea
            aria-label="File content"
            className="mono"
            autosize
            minRows={8}
            maxRows={20}
            placeholder={IMPORT_FORMATS.find((f) => f.value === format)?.placeholder}
            value={content}
            onChange={(e) => {
              setFileName(null);
              edit(setContent)(e.currentTarget.value);
            }}
            error={errorFields.get('content')}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 12 } }}
          />
          <Group>
            <Button leftSection={<IconEye size={16} />} onClick={() => preview.mutate()} loading={preview.isPending} disabled={!canEdit || !content.trim()}>
              Preview
            </Button>
            {!canEdit && <Text size="sm" c="dimmed">Importing needs the editor role.</Text>}
          </Group>
          {preview.isError && !(preview.error instanceof ApiError && preview.error.errors.length > 0) && <ErrorNotice error={preview.error} title="Could not read the file" />}
          {preview.error instanceof ApiError && preview.error.errors.some((e) => !['gateway', 'content', 'openapi.upstream', 'openapi.host', 'openapi.prefix'].includes(e.field)) && (
            <Alert color="red" title="The file has problems" role="alert">
              {preview.error.errors.map((e, i) => (
                <Text key={i} size="sm" className="mono">{e.field ? `${e.field}: ` : ''}{e.message}</Text>
              ))}
            </Alert>
          )}
        </Stack>
      </Card>

      {res && (
        <Card withBorder data-testid="import-preview">
          <Stack gap="sm">
            <Group justify="space-between">
              <Text fw={600}>
                {plural(res.workspace.routes?.length ?? 0, 'route')} and {plural(res.workspace.upstreams?.length ?? 0, 'upstream')} for {gateway}
              </Text>
              <Button
                leftSection={<IconFileImport size={16} />}
                disabled={res.problems.length > 0}
                loading={apply.isPending}
                onClick={() =>
                  modalsConfirm(
                    `Apply ${plural(objects.length, 'object')} to ${gateway}?`,
                    'They are written to the draft all or nothing (existing objects of the same name are replaced); the live configuration changes when you publish.',
                    () => apply.mutate(),
                    'Apply',
                  )
                }
              >
                Apply to the draft
              </Button>
            </Group>
            {res.report.length > 0 ? (
              <Alert color="yellow" icon={<IconAlertTriangle size={16} />} title={res.report.length === 1 ? '1 thing does not translate as it is' : `${res.report.length} things do not translate as they are`} data-testid="import-report">
                <List size="sm" spacing={2}>
                  {res.report.map((is, i) => (
                    <List.Item key={i}>
                      <b className="mono">{is.object}</b>
                      {is.field && <span className="mono"> {is.field}</span>}: {is.message}
                    </List.Item>
                  ))}
                </List>
              </Alert>
            ) : (
              <Text size="sm" c="green" data-testid="import-report">Everything in the file translates.</Text>
            )}
            {res.problems.length > 0 && (
              <Alert color="red" icon={<IconAlertTriangle size={16} />} title="Applying would be refused" role="alert" data-testid="import-problems">
                {res.problems.map((p, i) => (
                  <Text key={i} size="sm"><b className="mono">{p.field}</b>: {p.message}</Text>
                ))}
              </Alert>
            )}
            <Accordion variant="contained" multiple>
              {objects.map((o) => (
                <Accordion.Item key={o.key} value={o.key} data-object={o.key}>
                  <Accordion.Control>
                    <Group gap="xs">
                      <Badge size="sm" variant="light" color={o.kind === 'Route' ? 'indigo' : 'teal'}>{o.kind.toLowerCase()}</Badge>
                      <Text size="sm" className="mono">{o.name}</Text>
                      {byObject.get(o.path) && <Badge size="sm" color="red">{byObject.get(o.path)!.length} problem{byObject.get(o.path)!.length === 1 ? '' : 's'}</Badge>}
                    </Group>
                  </Accordion.Control>
                  <Accordion.Panel>
                    {byObject.get(o.path)?.map((m, i) => <Text key={i} size="xs" c="red">{m}</Text>)}
                    <pre className="mono" style={{ margin: 0, fontSize: 12, whiteSpace: 'pre-wrap' }}>{objectText(o.kind, o.object)}</pre>
                  </Accordion.Panel>
                </Accordion.Item>
              ))}
            </Accordion>
          </Stack>
        </Card>
      )}
      {apply.isError && <ErrorNotice error={apply.error} title="Not imported" />}
      {apply.data && (
        <Alert color="green" title="Imported" data-testid="import-applied">
          {apply.data.applied?.map((a) => (
            <Text key={`${a.kind}/${a.name}`} size="sm" className="mono">{a.kind.toLowerCase()}/{a.name} {a.action} (version {a.version})</Text>
          ))}
        </Alert>
      )}
    </Stack>
  );
}
