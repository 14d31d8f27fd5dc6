import { ActionIcon, AppShell, Burger, Group, Menu, NavLink, ScrollArea, Text, Title, Tooltip, useComputedColorScheme, useMantineColorScheme } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import {
  IconActivity,
  IconBell,
  IconChartBar,
  IconChecklist,
  IconCloudUpload,
  IconFileImport,
  IconHistory,
  IconKey,
  IconNetwork,
  IconLayoutDashboard,
  IconListDetails,
  IconLogout,
  IconMoon,
  IconRoute,
  IconServer,
  IconSettings,
  IconSun,
  IconUser,
} from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { Link, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthGate, logout, useMe } from './auth';
import { DelayedLoader } from './components/Loading';
import { GatewayPicker, GatewayProvider } from './gateway';
import { Overview } from './screens/Overview';
import { RoutesList } from './screens/RoutesList';
import { Upstreams } from './screens/Upstreams';

// Heavy screens (editor, charts, diff) load on first visit.
const RouteEditorPage = lazy(() => import('./screens/RouteEditorPage'));
const Sandbox = lazy(() => import('./screens/Sandbox'));
const RouteTests = lazy(() => import('./screens/RouteTests'));
const TrafficSimulation = lazy(() => import('./screens/TrafficSimulation'));
const History = lazy(() => import('./screens/History'));
const Publish = lazy(() => import('./screens/Publish'));
const Settings = lazy(() => import('./screens/Settings'));
const Gateways = lazy(() => import('./screens/Gateways'));
const GatewayEditorPage = lazy(() => import('./screens/GatewayEditor'));
const UpstreamEditorPage = lazy(() => import('./screens/UpstreamEditor'));
const Secrets = lazy(() => import('./screens/Secrets'));
const SecretEditorPage = lazy(() => import('./screens/SecretEditor'));
const Import = lazy(() => import('./screens/Import'));
const Alerts = lazy(() => import('./screens/Alerts'));
const RequestLog = lazy(() => import('./screens/RequestLog'));

const NAV = [
  { to: '/', label: 'Overview', icon: IconLayoutDashboard },
  { to: '/routes', label: 'Routes', icon: IconRoute },
  { to: '/upstreams', label: 'Upstreams', icon: IconServer },
  { to: '/gateways', label: 'Gateways', icon: IconNetwork },
  { to: '/logs', label: 'Request log', icon: IconListDetails },
  { to: '/secrets', label: 'Secrets', icon: IconKey },
  { to: '/import', label: 'Import', icon: IconFileImport },
  { to: '/sandbox', label: 'Sandbox', icon: IconActivity },
  { to: '/tests', label: 'Route tests', icon: IconChecklist },
  { to: '/simulation', label: 'Traffic simulation', icon: IconChartBar },
  { to: '/history', label: 'History', icon: IconHistory },
  { to: '/publish', label: 'Publish', icon: IconCloudUpload },
  { to: '/alerts', label: 'Alerts', icon: IconBell },
  { to: '/settings', label: 'Settings', icon: IconSettings },
];

export function App() {
  return (
    <AuthGate>
      <GatewayProvider>
        <Shell />
      </GatewayProvider>
    </AuthGate>
  );
}

function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
  return (
    <Tooltip label={scheme === 'dark' ? 'Light theme' : 'Dark theme'}>
      <ActionIcon variant="default" aria-label="Toggle theme" onClick={() => setColorScheme(scheme === 'dark' ? 'light' : 'dark')}>
        {scheme === 'dark' ? <IconSun size={16} /> : <IconMoon size={16} />}
      </ActionIcon>
    </Tooltip>
  );
}

function UserMenu() {
  const me = useMe();
  const qc = useQueryClient();
  return (
    <Menu position="bottom-end">
      <Menu.Target>
        <ActionIcon variant="default" aria-label="User menu"><IconUser size={16} /></ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{me.name} · {me.role}</Menu.Label>
        <Menu.Item leftSection={<IconLogout size={14} />} onClick={() => logout(qc)}>Sign out</Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

function Shell() {
  const [opened, { toggle }] = useDisclosure();
  const loc = useLocation();
  const active = (to: string) => (to === '/' ? loc.pathname === '/' : loc.pathname.startsWith(to));
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 210, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" />
            <Title order={4}>routedeck</Title>
            <Text size="xs" c="dimmed" visibleFrom="sm">Envoy route console</Text>
          </Group>
          <Group gap="xs">
            <GatewayPicker />
            <ThemeToggle />
            <UserMenu />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <ScrollArea>
          {NAV.map((n) => (
            <NavLink
              key={n.to}
              label={n.label}
              leftSection={<n.icon size={16} />}
              active={active(n.to)}
              // A router link, so an editor with unsaved changes can hold the navigation.
              component={Link}
              to={n.to}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<DelayedLoader />}>
          <Routes>
            <Route path="/" element={<Overview />} />
            <Route path="/routes" element={<RoutesList />} />
            <Route path="/routes/new" element={<RouteEditorPage />} />
            <Route path="/routes/:name" element={<RouteEditorPage />} />
            <Route path="/upstreams" element={<Upstreams />} />
            <Route path="/upstreams/new" element={<UpstreamEditorPage />} />
            <Route path="/upstreams/:name" element={<UpstreamEditorPage />} />
            <Route path="/gateways" element={<Gateways />} />
            <Route path="/gateways/new" element={<GatewayEditorPage />} />
            <Route path="/gateways/:name" element={<GatewayEditorPage />} />
            <Route path="/logs" element={<RequestLog />} />
            <Route path="/secrets" element={<Secrets />} />
            <Route path="/secrets/new" element={<SecretEditorPage />} />
            <Route path="/secrets/:name" element={<SecretEditorPage />} />
            <Route path="/import" element={<Import />} />
            <Route path="/alerts" element={<Alerts />} />
            <Route path="/sandbox" element={<Sandbox />} />
            <Route path="/tests" element={<RouteTests />} />
            <Route path="/simulation" element={<TrafficSimulation />} />
            <Route path="/history" element={<History />} />
            <Route path="/publish" element={<Publish />} />
            <Route path="/settings" element={<Settings />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
