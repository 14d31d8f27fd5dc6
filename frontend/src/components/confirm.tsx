import { Text } from '@mantine/core';
import { modals } from '@mantine/modals';

/** Asks before doing something that cannot be undone from the same screen. */
export function modalsConfirm(title: string, body: string, onConfirm: () => void, confirmLabel = 'Confirm') {
  modals.openConfirmModal({
    title,
    children: <Text size="sm">{body}</Text>,
    labels: { confirm: confirmLabel, cancel: 'Cancel' },
    confirmProps: { color: 'red' },
    onConfirm,
  });
}
