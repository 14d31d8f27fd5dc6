import { Alert, Center, Loader } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useEffect, useState, type ReactNode } from 'react';
import { friendlyMessage } from '../lib/api';

/** A spinner that appears only when waiting takes longer than 300 ms, so fast screens do not flicker. */
export function DelayedLoader({ delay = 300, label }: { delay?: number; label?: string }) {
  const [show, setShow] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setShow(true), delay);
    return () => clearTimeout(t);
  }, [delay]);
  if (!show) return null;
  return (
    <Center p="xl" aria-label={label ?? 'Loading'}>
      <Loader size="sm" />
    </Center>
  );
}

/** A friendly error box; never shows a stack trace. */
export function ErrorNotice({ error, title = 'Could not load' }: { error: unknown; title?: string }) {
  return (
    <Alert color="red" icon={<IconAlertTriangle size={18} />} title={title} role="alert">
      {friendlyMessage(error)}
    </Alert>
  );
}

/** Renders loading and error states of a query, and children once data is there. */
export function QueryState<T>({
  query,
  children,
}: {
  query: { isPending: boolean; isError: boolean; error: unknown; data: T | undefined };
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <DelayedLoader />;
  if (query.isError) return <ErrorNotice error={query.error} />;
  return <>{children(query.data as T)}</>;
}
