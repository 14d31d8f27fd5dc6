import { Button, Group, Modal, Text } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { useBlocker } from 'react-router';

/**
 * Keeps unsaved edits from being lost without a word: leaving the screen
 * inside the app asks first (stay, discard, or save and leave), and so
 * does closing or reloading the tab (the browser's own prompt).
 *
 * `release` lets the editor navigate on purpose (after a save or delete)
 * even before its dirty state has caught up.
 */
export function useUnsavedGuard(dirty: boolean, save: () => Promise<boolean>) {
  const released = useRef(false);
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && !released.current && currentLocation.pathname !== nextLocation.pathname);

  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => {
      if (released.current) return;
      e.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const [saving, setSaving] = useState(false);
  const prompt = (
    <Modal
      opened={blocker.state === 'blocked'}
      onClose={() => blocker.reset?.()}
      title="Leave without saving?"
      centered
      data-testid="unsaved-prompt"
    >
      <Text size="sm">This screen has changes that are not saved. Leaving drops them.</Text>
      <Group justify="flex-end" mt="md" gap="xs">
        <Button variant="default" onClick={() => blocker.reset?.()}>Stay</Button>
        <Button variant="light" color="red" onClick={() => blocker.proceed?.()}>Discard changes</Button>
        <Button
          loading={saving}
          onClick={async () => {
            setSaving(true);
            const ok = await save();
            setSaving(false);
            if (ok) {
              released.current = true;
              blocker.proceed?.();
            } else {
              blocker.reset?.();
            }
          }}
        >
          Save and leave
        </Button>
      </Group>
    </Modal>
  );
  return {
    prompt,
    /** Lets the next navigation through: the edits were saved or deleted. */
    release: () => {
      released.current = true;
    },
  };
}
