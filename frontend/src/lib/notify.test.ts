import { notificationsStore } from '@mantine/notifications';
import { describe, expect, it } from 'vitest';
import { notifyOutcome } from './notify';

const titles = () => notificationsStore.getState().notifications.map((n) => n.title);

describe('notifyOutcome', () => {
  it('keeps one notice per slot, the latest', () => {
    notifyOutcome('editor:upstreams', { title: 'Could not save the upstream', message: 'a' });
    notifyOutcome('editor:upstreams', { title: 'Could not save the upstream', message: 'b' });
    notifyOutcome('editor:routes', { title: 'Could not save the route', message: 'c' });
    expect(titles()).toEqual(['Could not save the upstream', 'Could not save the route']);
    notifyOutcome('editor:upstreams', { title: 'Saved', message: 'd' });
    expect(titles()).toEqual(['Could not save the route', 'Saved']);
  });
});
