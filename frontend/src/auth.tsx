import { Alert, Button, Center, Paper, PasswordInput, Stack, TextInput, Title, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { ApiError, api, friendlyMessage, post, setCsrfToken, setUnauthorizedHandler } from './lib/api';
import { keys, type Me } from './lib/queries';
import { DelayedLoader, ErrorNotice } from './components/Loading';

const MeContext = createContext<Me | null>(null);

/** The signed-in user. Only valid below AuthGate. */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside AuthGate');
  return me;
}

/** True when the user's role may change things (editor or admin). */
export function useCanEdit(): boolean {
  const me = useMe();
  return me.role === 'editor' || me.role === 'admin';
}

async function fetchMe(): Promise<Me | null> {
  try {
    const me = await api<Me>('GET', '/auth/me', undefined, { quiet401: true });
    setCsrfToken(me.csrfToken);
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** Shows the login page until there is a session, then the app. */
export function AuthGate({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const me = useQuery({ queryKey: keys.me, queryFn: fetchMe, staleTime: Infinity, retry: false });
  useEffect(() => {
    // A 401 from any later call means the session expired: back to login.
    setUnauthorizedHandler(() => qc.setQueryData(keys.me, null));
  }, [qc]);
  if (me.isPending) return <DelayedLoader label="Checking session" />;
  if (me.isError) return <Center h="100%"><ErrorNotice error={me.error} title="Cannot reach routedeck" /></Center>;
  if (!me.data) return <LoginPage />;
  return <MeContext.Provider value={me.data}>{children}</MeContext.Provider>;
}

/** The sign-in form. */
export function LoginPage() {
  const qc = useQueryClient();
  const form = useForm({
    initialValues: { name: '', password: '' },
    validate: {
      name: (v) => (v.trim() ? null : 'Enter your user name'),
      password: (v) => (v ? null : 'Enter your password'),
    },
  });
  const submit = form.onSubmit(async (values) => {
    try {
      const me = await post<Me>('/auth/login', values);
      setCsrfToken(me.csrfToken);
      forgetServerState(qc);
      qc.setQueryData(keys.me, me);
    } catch (e) {
      form.setErrors({ password: e instanceof ApiError && e.status === 401 ? 'Wrong user name or password' : friendlyMessage(e) });
    }
  });
  return (
    <Center h="100%" bg="var(--mantine-color-body)">
      <Paper withBorder shadow="md" p="xl" w={360} radius="md">
        <form onSubmit={submit}>
          <Stack>
            <div>
              <Title order={2}>routedeck</Title>
              <Text c="dimmed" size="sm">Sign in to manage gateway routes</Text>
            </div>
            <TextInput label="User name" autoComplete="username" autoFocus {...form.getInputProps('name')} />
            <PasswordInput label="Password" autoComplete="current-password" {...form.getInputProps('password')} />
            <Button type="submit" loading={form.submitting}>Sign in</Button>
            {typeof window !== 'undefined' && window.location.protocol === 'http:' && !/^(localhost|127\.)/.test(window.location.hostname) && (
              <Alert color="yellow" p="xs">This connection is not encrypted.</Alert>
            )}
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

// Drops everything cached for the previous user, but not the session query
// itself: AuthGate observes it, and a removed query would leave the gate
// watching a stale copy.
function forgetServerState(qc: ReturnType<typeof useQueryClient>) {
  qc.removeQueries({ predicate: (q) => q.queryKey[0] !== keys.me[0] });
}

/** Ends the session on the server and returns to the login page. */
export async function logout(qc: ReturnType<typeof useQueryClient>) {
  try {
    await post('/auth/logout');
  } finally {
    setCsrfToken('');
    forgetServerState(qc);
    qc.setQueryData(keys.me, null);
  }
}
