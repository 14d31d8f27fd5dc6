import { Alert, Button, Card, Group, Stack, Text } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, get, seg } from '../lib/api';
import { openAPISummary, type OpenAPIDocument } from '../lib/apiDocs';

/**
 * The gateway's published routes as an OpenAPI 3.1 document, to download
 * for SDK generators and API portals.
 */
export function ApiDocs({ gateway }: { gateway: string }) {
  const doc = useQuery({
    queryKey: ['gateways', gateway, 'export', 'openapi'],
    queryFn: () => get<OpenAPIDocument>(`/gateways/${seg(gateway)}/export/openapi`),
  });
  const notPublished = doc.error instanceof ApiError && doc.error.status === 409;
  const download = () => {
    const url = URL.createObjectURL(new Blob([JSON.stringify(doc.data, null, 2) + '\n'], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${gateway}-openapi.json`;
    a.click();
    URL.revokeObjectURL(url);
  };
  const s = doc.data ? openAPISummary(doc.data) : null;
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
            {s.operations} operations on {s.paths} paths{s.servers.length ? `, served at ${s.servers.join(', ')}` : ''}
            {s.securitySchemes.length ? `; security: ${s.securitySchemes.join(', ')}` : ''}
          </Text>
        )}
        {notPublished && <Alert color="gray">Nothing is published for {gateway} yet: publish first.</Alert>}
        {doc.isError && !notPublished && <Alert color="red">{doc.error instanceof ApiError ? doc.error.message : 'The document could not be made.'}</Alert>}
      </Stack>
    </Card>
  );
}
