import { Anchor, Group, Text } from '@mantine/core';
import { IconListDetails } from '@tabler/icons-react';

/** The way from a gateway's page to the requests its proxies served. */
export function RequestLogLink({ gateway }: { gateway: string }) {
  return (
    <Group gap={6}>
      <IconListDetails size={16} />
      <Anchor href={`#/logs?gateway=${encodeURIComponent(gateway)}`} data-testid="gateway-request-log">Request log</Anchor>
      <Text size="sm" c="dimmed">the requests this gateway's proxies served, each explained against the version that served it</Text>
    </Group>
  );
}
