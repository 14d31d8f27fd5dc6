import { Alert, Badge, Button, Card, Checkbox, Code, CopyButton, Group, Kbd, List, NumberInput, ScrollArea, SegmentedControl, Select, SimpleGrid, Stack, Table, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useHotkeys } from '@mantine/hooks';
import { IconAlertTriangle, IconCopy, IconDownload } from '@tabler/icons-react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useMe } from '../auth';
import { ApiError, friendlyMessage, get, post, seg } from '../lib/api';
import {
  DEPLOY_FIELDS,
  actionLabel,
  appliedAction,
  appliedSummary,
  consulEntryLabel,
  deployDefaults,
  deployRequest,
  envoyCounts,
  envoyFileName,
  reportByRule,
  splitCRDNotice,
  type Applied,
  type ConsulReply,
  type DeployFormValues,
  type DeployReply,
  type EnvoyResource,
  type ExportIssue,
  type GatewayAPIReply,
} from '../lib/deploy';
import { MOD_KEY } from '../lib/format';
import { notifyOutcome } from '../lib/notify';
import { problemsToFormErrors } from '../lib/problems';
import { usePublished } from '../lib/queries';
import { modalsConfirm } from './confirm';
import { DelayedLoader, ErrorNotice } from './Loading';

/** The browser remembers the last ADS address deployed with: the server does not know how its Envoys reach it. */
const ADS_KEY = 'routedeck.deploy.ads';

/** GET /targets, only as far as this screen needs it (the namespace gateways go to by default). */
interface TargetsNamespace {
  kubernetes: { namespace?: string };
}

/**
 * Running a gateway's Envoys in Kubernetes, and its routes in other
 * systems: a deploy, the Gateway API and Consul exports, and the Envoy
 * resources themselves. On the gateway's page, below its settings, since
 * every action here is about that one gateway.
 */
export function DeployExport({ gateway }: { gateway: string }) {
  return (
    <Card withBorder data-testid="deploy-export">
      <Title order={4} mb="xs">Deploy &amp; export</Title>
      <Tabs defaultValue="deploy" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="deploy">Kubernetes deploy</Tabs.Tab>
          <Tabs.Tab value="gateway-api">Gateway API</Tabs.Tab>
          <Tabs.Tab value="consul">Consul config entries</Tabs.Tab>
          <Tabs.Tab value="envoy">Envoy resources</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="deploy" pt="md"><KubernetesDeploy gateway={gateway} /></Tabs.Panel>
        <Tabs.Panel value="gateway-api" pt="md"><GatewayAPIExport gateway={gateway} /></Tabs.Panel>
        <Tabs.Panel value="consul" pt="md"><ConsulExport gateway={gateway} /></Tabs.Panel>
        <Tabs.Panel value="envoy" pt="md"><EnvoyExport gateway={gateway} /></Tabs.Panel>
      </Tabs>
    </Card>
  );
}

/** Ctrl/⌘+Enter runs the tab's preview, also from inside its inputs. */
function usePreviewHotkey(run: () => void) {
  useHotkeys([['mod+Enter', run]], [], true);
}

const PreviewKbd = () => <Kbd ml={6} size="xs">{MOD_KEY} ↵</Kbd>;

/** A target that is not configured or does not answer (502) is said as such, above the form. */
function TargetError({ error, title, fields = [] }: { error: unknown; title: string; fields?: string[] }) {
  const unreachable = error instanceof ApiError && error.status === 502;
  // Problems about fields on screen show beside them; the rest here.
  const rest = error instanceof ApiError ? error.errors.filter((p) => !fields.includes(p.field)) : [];
  return (
    <Alert color="red" icon={<IconAlertTriangle size={18} />} title={unreachable ? `${title}: target unavailable` : title} role="alert">
      {friendlyMessage(error)}
      {rest.map((p, i) => (
        <Text key={i} size="sm">{p.field ? <b className="mono">{p.field}: </b> : null}{p.message}</Text>
      ))}
      {unreachable && <Text size="sm" mt={4}>Check the target in Settings → Targets.</Text>}
    </Alert>
  );
}

function KubernetesDeploy({ gateway }: { gateway: string }) {
  const admin = useMe().role === 'admin';
  const targets = useQuery({ queryKey: ['targets'], queryFn: () => get<TargetsNamespace>('/targets'), retry: false });
  const form = useForm<DeployFormValues>({
    initialValues: deployDefaults(localStorage.getItem(ADS_KEY) ?? ''),
    validate: {
      ads: (v) => (v.trim() && !/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/.test(v.trim()) ? 'HOST:PORT, as the Envoys in the cluster reach routedeck' : null),
    },
  });
  const deploy = useMutation({
    mutationFn: (dryRun: boolean) => post<DeployReply>(`/gateways/${seg(gateway)}/deploy`, deployRequest(form.values, dryRun)),
    onMutate: () => form.clearErrors(),
    onSuccess: (r) => {
      localStorage.setItem(ADS_KEY, form.values.ads.trim());
      if (!r.dryRun) notifyOutcome('deploy', { color: 'green', title: 'Deployed', message: `${gateway}: ${appliedSummary(r.applied, false)}.` });
    },
    onError: (e) => {
      const { fieldErrors } = problemsToFormErrors(e instanceof ApiError ? e.errors : [], (p) => DEPLOY_FIELDS.includes(p));
      form.setErrors(fieldErrors);
    },
  });
  const run = (dryRun: boolean) => {
    if (!admin || form.validate().hasErrors) return;
    if (dryRun) {
      deploy.mutate(true);
      return;
    }
    const ns = form.values.namespace.trim() || targets.data?.kubernetes.namespace || 'the default namespace';
    modalsConfirm(
      `Deploy ${gateway} to ${ns}?`,
      `This applies the Deployment, its bootstrap ConfigMap and the Service to the cluster with server-side apply; running Envoys restart if their bootstrap changed.`,
      () => deploy.mutate(false),
      'Deploy',
    );
  };
  usePreviewHotkey(() => run(true));
  const nlb = form.values.serviceType === 'LoadBalancer';
  return (
    <Stack>
      {!admin && <Alert color="gray">Deploying writes to the cluster: admins only.</Alert>}
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <TextInput
          label="ADS address"
          description="routedeck as the Envoys in the cluster reach it"
          placeholder="routedeck.infra.svc:18000"
          required
          disabled={!admin}
          {...form.getInputProps('ads')}
        />
        <TextInput
          label="Namespace"
          description="Where the Envoys run"
          placeholder={targets.data?.kubernetes.namespace ?? 'default'}
          disabled={!admin}
          {...form.getInputProps('namespace')}
        />
        <TextInput label="Envoy image" description="Empty: the image routedeck is tested with" placeholder="envoyproxy/envoy" disabled={!admin} {...form.getInputProps('image')} />
        <NumberInput label="Replicas" min={0} max={100} allowDecimal={false} disabled={!admin} {...form.getInputProps('replicas')} />
        <div>
          <Text size="sm" fw={500} mb={4}>Service type</Text>
          <SegmentedControl fullWidth data={['LoadBalancer', 'NodePort']} disabled={!admin} {...form.getInputProps('serviceType')} />
          {form.errors.serviceType && <Text size="xs" c="red" mt={4}>{form.errors.serviceType}</Text>}
        </div>
        <div>
          <Text size="sm" fw={500} mb={4}>External traffic policy</Text>
          <SegmentedControl fullWidth data={['Cluster', 'Local']} disabled={!admin} {...form.getInputProps('externalTrafficPolicy')} />
          {form.errors.externalTrafficPolicy && <Text size="xs" c="red" mt={4}>{form.errors.externalTrafficPolicy}</Text>}
        </div>
      </SimpleGrid>
      <Group>
        <Checkbox label="Create the namespace" disabled={!admin} {...form.getInputProps('createNamespace', { type: 'checkbox' })} />
        <Checkbox label="AWS Network Load Balancer" disabled={!admin || !nlb} {...form.getInputProps('awsNlb', { type: 'checkbox' })} />
      </Group>
      <Group>
        <Button variant="light" disabled={!admin} loading={deploy.isPending && deploy.variables} onClick={() => run(true)}>
          Preview (dry run) <PreviewKbd />
        </Button>
        <Button color="red" disabled={!admin} loading={deploy.isPending && !deploy.variables} onClick={() => run(false)}>Deploy</Button>
      </Group>
      {deploy.isPending && <DelayedLoader label="Applying" />}
      {deploy.isError && <TargetError error={deploy.error} title={deploy.variables ? 'Dry run failed' : 'Not deployed'} fields={DEPLOY_FIELDS} />}
      {deploy.data && !deploy.isPending && (
        <Stack gap="xs" data-testid="deploy-result">
          <Text size="sm" fw={500}>
            {deploy.data.dryRun ? 'Dry run (nothing stored)' : 'Applied'}: {appliedSummary(deploy.data.applied, deploy.data.dryRun)}
          </Text>
          <AppliedTable applied={deploy.data.applied} dryRun={deploy.data.dryRun} />
          <YamlBlock yaml={deploy.data.yaml} label="Manifests" />
        </Stack>
      )}
    </Stack>
  );
}

const ACTION_COLOR: Record<string, string> = { created: 'green', configured: 'blue', unchanged: 'gray' };

/** The objects an apply touched and what it did to each. */
function AppliedTable({ applied, dryRun }: { applied: Applied[]; dryRun: boolean }) {
  return (
    <Table fz="sm" withTableBorder data-testid="applied">
      <Table.Thead>
        <Table.Tr><Table.Th>Kind</Table.Th><Table.Th>Namespace</Table.Th><Table.Th>Name</Table.Th><Table.Th>Action</Table.Th></Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {applied.map((a) => (
          <Table.Tr key={`${a.kind}/${a.namespace ?? ''}/${a.name}`} data-applied={`${a.kind}/${a.name}`}>
            <Table.Td>{a.kind}</Table.Td>
            <Table.Td className="mono">{a.namespace ?? '—'}</Table.Td>
            <Table.Td className="mono">{a.name}</Table.Td>
            <Table.Td>
              <Badge variant="light" color={ACTION_COLOR[appliedAction(a)] ?? 'gray'}>{actionLabel(a, dryRun)}</Badge>
              {a.note && <Text size="xs" c="dimmed">{a.note}</Text>}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** Read-only YAML or JSON with a copy button. */
function YamlBlock({ yaml, label }: { yaml: string; label: string }) {
  return (
    <Stack gap={4}>
      <Group justify="space-between">
        <Text size="sm" fw={500}>{label}</Text>
        <CopyButton value={yaml}>
          {({ copied, copy }) => (
            <Button size="compact-xs" variant="subtle" leftSection={<IconCopy size={12} />} onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>
          )}
        </CopyButton>
      </Group>
      <ScrollArea.Autosize mah={360} type="auto">
        <Code block data-testid="export-text">{yaml}</Code>
      </ScrollArea.Autosize>
    </Stack>
  );
}

/** What does not translate, rule by rule. */
function TranslationReport({ report, target }: { report: ExportIssue[]; target: string }) {
  const groups = reportByRule(report);
  if (groups.length === 0) return <Text size="sm" c="green" data-testid="export-report">Every rule translates to {target}.</Text>;
  return (
    <Alert color="yellow" title={`What does not translate to ${target}`} data-testid="export-report">
      <List size="sm" spacing={4}>
        {groups.map((g) => (
          <List.Item key={g.rule || '(gateway)'} data-report-rule={g.rule}>
            <Group gap={6}>
              <Text size="sm" fw={600} className="mono">{g.rule || 'gateway'}</Text>
              {g.skipped && <Badge size="xs" color="orange">left out</Badge>}
            </Group>
            {g.issues.map((i, k) => (
              <Text key={k} size="sm">{i.field ? <span className="mono">{i.field}: </span> : null}{i.reason}</Text>
            ))}
          </List.Item>
        ))}
      </List>
    </Alert>
  );
}

function GatewayAPIExport({ gateway }: { gateway: string }) {
  const admin = useMe().role === 'admin';
  const [namespace, setNamespace] = useState('');
  const targets = useQuery({ queryKey: ['targets'], queryFn: () => get<TargetsNamespace>('/targets'), retry: false });
  const base = `/gateways/${seg(gateway)}/export/gateway-api`;
  // The latest answer, preview or apply, is what shows.
  const [shown, setShown] = useState<GatewayAPIReply | null>(null);
  const preview = useMutation({
    mutationFn: () => get<GatewayAPIReply>(`${base}${namespace.trim() ? `?namespace=${seg(namespace.trim())}` : ''}`),
    onSuccess: setShown,
  });
  const apply = useMutation({
    mutationFn: (dryRun: boolean) => post<GatewayAPIReply>(base, { namespace: namespace.trim() || undefined, dryRun }),
    onSuccess: (r) => {
      setShown(r);
      if (r.crdsInstalled && !r.dryRun) notifyOutcome('export-gateway-api', { color: 'green', title: 'HTTPRoutes applied', message: appliedSummary(r.applied ?? [], false) });
    },
  });
  // Only the latest attempt's failure shows.
  const runPreview = () => {
    apply.reset();
    preview.mutate();
  };
  usePreviewHotkey(runPreview);
  const onApply = () =>
    modalsConfirm(
      `Apply ${gateway}'s HTTPRoutes?`,
      'They are applied to the cluster with server-side apply; rules that do not translate are left out as the report says.',
      () => {
        preview.reset();
        apply.mutate(false);
      },
      'Apply',
    );
  const split = shown ? splitCRDNotice(shown) : null;
  return (
    <Stack>
      <Group align="flex-end">
        <TextInput
          label="Namespace"
          description="Where the HTTPRoutes go"
          placeholder={targets.data?.kubernetes.namespace ?? 'default'}
          value={namespace}
          onChange={(e) => setNamespace(e.currentTarget.value)}
          w={260}
        />
        <Button variant="light" loading={preview.isPending} onClick={runPreview}>
          Preview <PreviewKbd />
        </Button>
        {admin && <Button color="red" loading={apply.isPending} onClick={onApply}>Apply to cluster</Button>}
      </Group>
      {(preview.isPending || apply.isPending) && <DelayedLoader />}
      {preview.isError && <TargetError error={preview.error} title="No preview" />}
      {apply.isError && <TargetError error={apply.error} title="Not applied" />}
      {split?.notice && (
        <Alert color="orange" variant="filled" icon={<IconAlertTriangle size={18} />} title="Gateway API CRDs not installed" role="alert" data-testid="crds-missing">
          {split.notice}
        </Alert>
      )}
      {shown && split && (
        <Stack gap="xs" data-testid="gateway-api-result">
          <Text size="sm" c="dimmed">From the {shown.from}: {shown.routes.length} HTTPRoute{shown.routes.length === 1 ? '' : 's'}.</Text>
          {shown.applied && shown.applied.length > 0 && <AppliedTable applied={shown.applied} dryRun={!!shown.dryRun} />}
          <TranslationReport report={split.report} target="the Gateway API" />
          <YamlBlock yaml={shown.yaml} label="HTTPRoutes" />
        </Stack>
      )}
    </Stack>
  );
}

function ConsulExport({ gateway }: { gateway: string }) {
  const admin = useMe().role === 'admin';
  const base = `/gateways/${seg(gateway)}/export/consul`;
  const [shown, setShown] = useState<ConsulReply | null>(null);
  const preview = useMutation({ mutationFn: () => get<ConsulReply>(base), onSuccess: setShown });
  const apply = useMutation({
    mutationFn: () => post<ConsulReply>(base),
    onSuccess: (r) => {
      setShown(r);
      notifyOutcome('export-consul', { color: 'green', title: 'Config entries written', message: `The Consul agent holds ${r.applied?.length ?? 0} entries for ${gateway}.` });
    },
  });
  const runPreview = () => {
    apply.reset();
    preview.mutate();
  };
  usePreviewHotkey(runPreview);
  const onApply = () =>
    modalsConfirm(
      `Write ${gateway}'s config entries to Consul?`,
      'The service router, splitters and resolvers replace the entries of the same names in the agent.',
      () => {
        preview.reset();
        apply.mutate();
      },
      'Write',
    );
  return (
    <Stack>
      <Group>
        <Button variant="light" loading={preview.isPending} onClick={runPreview}>
          Preview <PreviewKbd />
        </Button>
        {admin && <Button color="red" loading={apply.isPending} onClick={onApply}>Apply to Consul</Button>}
      </Group>
      {(preview.isPending || apply.isPending) && <DelayedLoader />}
      {preview.isError && <TargetError error={preview.error} title="No preview" />}
      {apply.isError && <TargetError error={apply.error} title="Not written" />}
      {shown && (
        <Stack gap="xs" data-testid="consul-result">
          <Text size="sm" c="dimmed">From the {shown.from}: {shown.entries.length} config entr{shown.entries.length === 1 ? 'y' : 'ies'}.</Text>
          {shown.applied && (
            <Alert color="green" title="The agent now holds" data-testid="consul-applied">
              <Group gap={6}>
                {shown.applied.map((e) => (
                  <Badge key={consulEntryLabel(e)} variant="light" className="mono" tt="none">{consulEntryLabel(e)}</Badge>
                ))}
              </Group>
            </Alert>
          )}
          <TranslationReport report={shown.report} target="Consul" />
          <YamlBlock yaml={JSON.stringify(shown.applied ?? shown.entries, null, 2)} label={shown.applied ? 'Entries as the agent holds them' : 'Config entries'} />
        </Stack>
      )}
    </Stack>
  );
}

const ENVOY_TYPES = ['all', 'listeners', 'routes', 'clusters', 'endpoints', 'secrets'];

function EnvoyExport({ gateway }: { gateway: string }) {
  const published = usePublished(gateway);
  const [type, setType] = useState('all');
  const [version, setVersion] = useState<string | null>(null);
  const v = version ? Number(version) : null;
  const q = useQuery({
    queryKey: ['gateways', gateway, 'export', 'envoy', type, v],
    queryFn: () => get<{ items: EnvoyResource[] }>(`/gateways/${seg(gateway)}/export/envoy?type=${type}${v ? `&version=${v}` : ''}`),
  });
  usePreviewHotkey(() => void q.refetch());
  const text = q.data ? JSON.stringify(q.data.items, null, 2) : '';
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = envoyFileName(gateway, type, v);
    a.click();
    URL.revokeObjectURL(url);
  };
  const versions = [{ value: '', label: 'Draft' }, ...(published.data ?? []).map((p) => ({ value: String(p.version), label: `Published version ${p.version}` }))];
  return (
    <Stack>
      <Text size="sm" c="dimmed">The listeners, routes, clusters, endpoints and secrets routedeck serves this gateway's Envoys over ADS, credentials (private keys, passwords, API keys) shown as fingerprints.</Text>
      <Group align="flex-end">
        <Select label="Resources" data={ENVOY_TYPES} value={type} onChange={(t) => setType(t ?? 'all')} allowDeselect={false} w={160} />
        <Select label="From" data={versions} value={version ?? ''} onChange={(x) => setVersion(x || null)} allowDeselect={false} w={220} />
        <Button variant="light" loading={q.isFetching} onClick={() => void q.refetch()}>
          Refresh <PreviewKbd />
        </Button>
      </Group>
      {q.isFetching && <DelayedLoader />}
      {q.isError && <ErrorNotice error={q.error} title="No export" />}
      {q.data && (
        <Stack gap="xs" data-testid="envoy-result">
          <Group gap={6}>
            {envoyCounts(q.data.items).map(([t, n]) => <Badge key={t} variant="light" tt="none">{n} {t}</Badge>)}
            <Button size="compact-sm" variant="subtle" leftSection={<IconDownload size={14} />} onClick={download}>Download JSON</Button>
          </Group>
          <YamlBlock yaml={text} label={envoyFileName(gateway, type, v)} />
        </Stack>
      )}
    </Stack>
  );
}
