import { notifications, type NotificationData } from '@mantine/notifications';

// The notice currently shown for each slot. Saving twice in a row should
// leave one answer on screen (the latest), not a stack of identical ones.
const shown = new Map<string, string>();

/** Shows n as the outcome for slot, replacing the slot's previous notice. */
export function notifyOutcome(slot: string, n: NotificationData): void {
  const prev = shown.get(slot);
  if (prev) notifications.hide(prev);
  shown.set(slot, notifications.show({ ...n, id: undefined }));
}
