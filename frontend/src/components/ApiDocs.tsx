import { Alert, Button, Card, Group, List, Stack, Text } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, get, seg } from '../lib/api';
import { openAPISummary, type OpenAPIExport } from '../lib/apiDocs';
import { plural } from '../lib/format';

/**
 * The gateway's published routes as an OpenAPI 3.1 document, to download
 * for SDK generators and API portals.
 */
export function ApiDocs({ gateway }: { gateway: string }) {
  const doc = useQuery({
    queryKey: ['gateways', gateway, 'export', 'openapi'],
    queryFn: () => get<OpenAPIExport>(`/gateways/${seg(gateway)}/export/openapi`),
  });
  const download = () => {
    const url = URL.createObjectURL(new Blob([JSON.stringify(doc.data?.document, null, 2) + '\n'], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${gateway}-openapi.json`;
    a.click();
    URL.revokeObjectURL(url);
  };
  const s = doc.data ? openAPISummary(doc.data.document) : null;
  const version = doc.data?.version;
  return (
    <Card withBorder data-testid="api-docs">
      <Stack gap="xs">
        <Group justify="space-between">
          <Text fw={600}>API documentation</Text>
          <Button size="xs" variant="light" leftSection={<IconDownload size={14} />} disabled={!doc.data} loading={doc.isPending} onClick={download}>
            Download OpenAPI
          </Button>
        </Group>
        <Text size="sm" c="dimmed">
          An OpenAPI 3.1 document of what {gateway} serves as published: its hosts as servers, path templates and methods as operations, authentication
          as security schemes. SDK generators and API portals read it.
        </Text>
        {s && (
          <Text size="sm" data-testid="api-docs-summary">
            {version === 'draft' ? 'The draft (nothing is published yet)' : `Published version ${version}`}: {plural(s.operations, 'operation')} on {plural(s.paths, 'path')}
            {s.servers.length ? `, served at ${s.servers.join(', ')}` : ''}
            {s.securitySchemes.length ? `; security: ${s.securitySchemes.join(', ')}` : ''}
          </Text>
        )}
        {doc.data && doc.data.report.length > 0 && (
          <Alert color="yellow" p="xs" title="What OpenAPI cannot say" data-testid="api-docs-report">
            <List size="sm" spacing={2}>
              {doc.data.report.map((r, i) => (
                <List.Item key={i}>
                  <span className="mono">{r.rule}</span>: {r.reason}{r.skipped ? ' (left out of the document)' : ''}
                </List.Item>
              ))}
            </List>
          </Alert>
        )}
        {doc.isError && <Alert color="red">{doc.error instanceof ApiError ? doc.error.message : 'The document could not be made.'}</Alert>}
      </Stack>
    </Card>
  );
}
