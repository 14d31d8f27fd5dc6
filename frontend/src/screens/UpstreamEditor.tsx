import { ActionIcon, Alert, Autocomplete, Button, Fieldset, Group, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Switch, TagsInput, Text, TextInput } from '@mantine/core';
import { useForm, type UseFormReturnType } from '@mantine/form';
import { useQuery } from '@tanstack/react-query';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { useParams } from 'react-router';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { ObjectEditorShell, SectionError, useObjectEditor, type ObjectKind } from '../components/ObjectEditor';
import { friendlyMessage, get, seg } from '../lib/api';
import type { Upstream } from '../lib/model';
import {
  UPSTREAM_CONTAINERS,
  formFieldKnown,
  formToUpstream,
  hashesRequests,
  kubeChoices,
  upstreamFormProblems,
  upstreamToForm,
  type HashBy,
  type KubeServices,
  type UpstreamFormValues,
} from '../lib/objectForms';
import { useObject, useSecrets } from '../lib/queries';

const KIND: ObjectKind<UpstreamFormValues, Upstream> = {
  collection: 'upstreams',
  label: 'upstream',
  toObject: formToUpstream,
  known: (v) => formFieldKnown(v, UPSTREAM_CONTAINERS),
};

const NEW: Upstream = { name: '', static: { endpoints: [{ address: '', port: 80 }] } };

/** /upstreams/new and /upstreams/:name. */
export default function UpstreamEditorPage() {
  const { name } = useParams();
  const q = useObject<Upstream>('upstreams', name);
  const [generation, setGeneration] = useState(0);
  if (name && q.isPending) return <DelayedLoader />;
  if (name && q.isError) return <ErrorNotice error={q.error} title={`Cannot open upstream ${name}`} />;
  const reload = async () => {
    await q.refetch();
    setGeneration((g) => g + 1);
  };
  return <UpstreamEditor key={`${name ?? ''}#${generation}`} initial={q.data ?? NEW} isNew={!name} onReload={reload} />;
}

const nameRule = (v: string) => (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(v) ? null : 'Use lower-case letters, digits, "-" and "."');

function UpstreamEditor({ initial, isNew, onReload }: { initial: Upstream; isNew: boolean; onReload: () => void }) {
  const form = useForm<UpstreamFormValues>({
    initialValues: upstreamToForm(initial),
    validate: (values) => ({ name: nameRule(values.name), ...upstreamFormProblems(values) }),
  });
  const editor = useObjectEditor(KIND, form, isNew);
  const secrets = useSecrets();
  const ro = !editor.canEdit;
  const v = form.values;
  const inp = (path: string) => ({ disabled: ro, ...form.getInputProps(path) });
  const chk = (path: string) => ({ disabled: ro, ...form.getInputProps(path, { type: 'checkbox' }) });
  return (
    <ObjectEditorShell title={isNew ? 'New upstream' : initial.name} isNew={isNew} label="upstream" editor={editor} version={v.version} onReload={onReload}>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <TextInput label="Name" required readOnly={!isNew} {...inp('name')} />
        <TextInput label="Description" {...inp('description')} />
      </SimpleGrid>
      <Fieldset legend="Endpoints come from">
        <Stack gap="xs">
          <SegmentedControl
            aria-label="Source"
            disabled={ro}
            value={v.source}
            onChange={(s) => form.setFieldValue('source', s as UpstreamFormValues['source'])}
            data={[
              { value: 'static', label: 'Static list' },
              { value: 'dns', label: 'DNS' },
              { value: 'kubernetes', label: 'Kubernetes' },
              { value: 'consul', label: 'Consul' },
            ]}
          />
          <SectionError error={form.errors[v.source] ?? form.errors['']} />
          {v.source === 'static' && <StaticEndpoints form={form} readOnly={ro} />}
          {v.source === 'dns' && (
            <SimpleGrid cols={{ base: 1, md: 2 }}>
              <TextInput label="Host name" placeholder="api.internal" {...inp('dns.host')} />
              <NumberInput label="Port" min={1} max={65535} {...inp('dns.port')} />
            </SimpleGrid>
          )}
          {v.source === 'kubernetes' && <KubernetesSource form={form} readOnly={ro} />}
          {v.source === 'consul' && <ConsulSource form={form} readOnly={ro} />}
        </Stack>
      </Fieldset>
      <Fieldset legend="Connection">
        <SimpleGrid cols={{ base: 1, md: 3 }}>
          <Select label="Protocol" clearable placeholder="http1 (default)" data={['http1', 'http2', 'grpc']} {...inp('protocol')} />
          <Select
            label="Load balancer"
            clearable
            placeholder="round-robin (default)"
            data={['round-robin', 'least-request', 'random', 'ring-hash', 'maglev']}
            {...inp('loadBalancer.policy')}
          />
          <TextInput label="Connect timeout" placeholder="5s" {...inp('connectTimeout')} />
        </SimpleGrid>
        {hashesRequests(v.loadBalancer.policy) && <HashOnFields form={form} readOnly={ro} />}
      </Fieldset>
      <Fieldset legend="Health check">
        <Stack gap="xs">
          <Switch label="Check endpoints actively over HTTP" {...chk('healthCheckOn')} />
          <SectionError error={form.errors.healthCheck} />
          {v.healthCheckOn && (
            <SimpleGrid cols={{ base: 1, md: 5 }}>
              <TextInput label="Path" {...inp('healthCheck.path')} />
              <TextInput label="Interval" placeholder="10s" {...inp('healthCheck.interval')} />
              <TextInput label="Timeout" placeholder="1s" {...inp('healthCheck.timeout')} />
              <NumberInput label="Healthy after" min={1} {...inp('healthCheck.healthyThreshold')} />
              <NumberInput label="Unhealthy after" min={1} {...inp('healthCheck.unhealthyThreshold')} />
            </SimpleGrid>
          )}
          {v.healthCheckOn && (
            <TagsInput
              label="Expected statuses"
              description="Status codes (100-599) that count as healthy; none means 200 only"
              placeholder="200, 204"
              splitChars={[',', ' ']}
              clearable
              {...inp('healthCheck.expectedStatuses')}
            />
          )}
        </Stack>
      </Fieldset>
      <Fieldset legend="Outlier detection">
        <Stack gap="xs">
          <Switch label="Eject endpoints that keep failing" {...chk('outlierOn')} />
          <SectionError error={form.errors.outlierDetection} />
          {v.outlierOn && (
            <SimpleGrid cols={{ base: 1, md: 4 }}>
              <NumberInput label="Consecutive 5xx" min={1} {...inp('outlierDetection.consecutive5xx')} />
              <TextInput label="Interval" placeholder="10s" {...inp('outlierDetection.interval')} />
              <TextInput label="Base ejection time" placeholder="30s" {...inp('outlierDetection.baseEjectionTime')} />
              <NumberInput label="Max ejection %" min={0} max={100} {...inp('outlierDetection.maxEjectionPercent')} />
            </SimpleGrid>
          )}
        </Stack>
      </Fieldset>
      <Fieldset legend="Circuit breaker">
        <Stack gap="xs">
          <Switch label="Limit concurrency towards the upstream" {...chk('circuitBreakerOn')} />
          <SectionError error={form.errors.circuitBreaker} />
          {v.circuitBreakerOn && (
            <>
              <SimpleGrid cols={{ base: 1, md: 4 }}>
                <NumberInput label="Max connections" min={0} {...inp('circuitBreaker.maxConnections')} />
                <NumberInput label="Max pending requests" min={0} {...inp('circuitBreaker.maxPendingRequests')} />
                <NumberInput label="Max requests" min={0} {...inp('circuitBreaker.maxRequests')} />
                <NumberInput label="Max retries" min={0} {...inp('circuitBreaker.maxRetries')} />
              </SimpleGrid>
              <Switch label="Retry budget: cap retries as a share of active requests" {...chk('retryBudgetOn')} />
              <SectionError error={form.errors['circuitBreaker.retryBudget']} />
              {v.retryBudgetOn && (
                <SimpleGrid cols={{ base: 1, md: 2 }}>
                  <NumberInput label="Budget %" min={0} max={100} decimalScale={2} {...inp('circuitBreaker.retryBudget.budgetPercent')} />
                  <NumberInput label="Min retry concurrency" min={0} {...inp('circuitBreaker.retryBudget.minRetryConcurrency')} />
                </SimpleGrid>
              )}
            </>
          )}
        </Stack>
      </Fieldset>
      <Fieldset legend="TLS to the upstream">
        <Stack gap="xs">
          <Switch label="Originate TLS" {...chk('tlsOn')} />
          <SectionError error={form.errors.tls} />
          {v.tlsOn && (
            <SimpleGrid cols={{ base: 1, md: 3 }}>
              <TextInput label="SNI" placeholder="the endpoint's host name" {...inp('tls.sni')} />
              <Select label="CA secret" clearable searchable data={secrets.data?.items.filter((s) => s.ca).map((s) => s.name) ?? []} {...inp('tls.caSecret')} />
              <Switch mt={28} label="Skip verification (insecure)" {...chk('tls.insecureSkipVerify')} />
            </SimpleGrid>
          )}
        </Stack>
      </Fieldset>
    </ObjectEditorShell>
  );
}

/** The consistent hashing key for ring-hash and maglev: one header, one cookie or the source IP. */
function HashOnFields({ form, readOnly }: { form: UseFormReturnType<UpstreamFormValues>; readOnly: boolean }) {
  const by = form.values.loadBalancer.hashBy;
  return (
    <SimpleGrid cols={{ base: 1, md: 3 }} mt="xs">
      <Select
        label="Hash on"
        description="Requests with the same key go to the same endpoint"
        placeholder="Choose a key"
        data={[
          { value: 'header', label: 'Header' },
          { value: 'cookie', label: 'Cookie' },
          { value: 'sourceIP', label: 'Source IP' },
        ]}
        disabled={readOnly}
        value={by || null}
        onChange={(b) => form.setFieldValue('loadBalancer.hashBy', (b ?? '') as HashBy)}
        error={form.errors['loadBalancer.hashOn'] ?? form.errors['loadBalancer.hashBy']}
      />
      {by === 'header' && <TextInput label="Header name" description=" " placeholder="x-user-id" disabled={readOnly} {...form.getInputProps('loadBalancer.hashOn.header')} />}
      {by === 'cookie' && <TextInput label="Cookie name" description=" " placeholder="session" disabled={readOnly} {...form.getInputProps('loadBalancer.hashOn.cookie')} />}
    </SimpleGrid>
  );
}

function StaticEndpoints({ form, readOnly }: { form: UseFormReturnType<UpstreamFormValues>; readOnly: boolean }) {
  const eps = form.values.static.endpoints;
  return (
    <Stack gap={6} data-testid="static-endpoints">
      <SectionError error={form.errors['static.endpoints']} />
      {eps.map((_, i) => (
        <Group key={i} align="flex-start" gap="xs">
          <TextInput label={i === 0 ? 'Address' : undefined} aria-label={`Endpoint ${i + 1} address`} placeholder="10.0.0.1 or a host name" w={280} disabled={readOnly} {...form.getInputProps(`static.endpoints.${i}.address`)} />
          <NumberInput label={i === 0 ? 'Port' : undefined} aria-label={`Endpoint ${i + 1} port`} min={1} max={65535} w={120} disabled={readOnly} {...form.getInputProps(`static.endpoints.${i}.port`)} />
          <NumberInput label={i === 0 ? 'Weight' : undefined} aria-label={`Endpoint ${i + 1} weight`} placeholder="1" min={1} w={100} disabled={readOnly} {...form.getInputProps(`static.endpoints.${i}.weight`)} />
          <ActionIcon mt={i === 0 ? 28 : 4} variant="subtle" color="red" aria-label={`Remove endpoint ${i + 1}`} disabled={readOnly} onClick={() => form.removeListItem('static.endpoints', i)}>
            <IconTrash size={14} />
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button size="xs" variant="light" leftSection={<IconPlus size={14} />} disabled={readOnly} onClick={() => form.insertListItem('static.endpoints', { address: '', port: 80, weight: '' })}>
          Endpoint
        </Button>
      </Group>
    </Stack>
  );
}

/** A target that is not configured (or unreachable) answers with a reason: show it and let the user type. */
function TargetNotice({ name, error }: { name: string; error: unknown }) {
  return (
    <Alert color="gray" p="xs" data-testid="target-notice">
      <Text size="sm">{name} cannot be browsed right now: {friendlyMessage(error)} Type the values by hand; an administrator can set up the connection under Settings → Targets.</Text>
    </Alert>
  );
}

function KubernetesSource({ form, readOnly }: { form: UseFormReturnType<UpstreamFormValues>; readOnly: boolean }) {
  const k = form.values.kubernetes;
  const svcs = useQuery({
    queryKey: ['targets', 'kubernetes', 'services', k.namespace],
    queryFn: () => get<KubeServices>(`/targets/kubernetes/services${k.namespace ? `?namespace=${seg(k.namespace)}` : ''}`),
    retry: false,
    staleTime: 30_000,
  });
  const { namespaces, services, ports, portsOf } = kubeChoices(svcs.data, k.namespace, k.service);
  return (
    <Stack gap="xs">
      {svcs.isError && <TargetNotice name="Kubernetes" error={svcs.error} />}
      <SimpleGrid cols={{ base: 1, md: 4 }}>
        <Autocomplete label="Namespace" data={namespaces} disabled={readOnly} {...form.getInputProps('kubernetes.namespace')} />
        <Autocomplete
          label="Service"
          data={services}
          disabled={readOnly}
          {...form.getInputProps('kubernetes.service')}
          onChange={(name) => {
            form.setFieldValue('kubernetes.service', name);
            // A service with one port leaves nothing to choose.
            const only = portsOf(name);
            if (only.length === 1) form.setFieldValue('kubernetes.port', only[0].port);
          }}
        />
        {ports.length > 0 ? (
          <Select
            label="Port"
            data={ports}
            disabled={readOnly}
            {...form.getInputProps('kubernetes.port')}
            value={k.port === '' ? null : String(k.port)}
            onChange={(p) => form.setFieldValue('kubernetes.port', p ? Number(p) : '')}
          />
        ) : (
          <NumberInput label="Port" description="The Service's port number" min={1} max={65535} disabled={readOnly} {...form.getInputProps('kubernetes.port')} />
        )}
        <TextInput label="Context" placeholder="the configured one" disabled={readOnly} {...form.getInputProps('kubernetes.context')} />
      </SimpleGrid>
    </Stack>
  );
}

function ConsulSource({ form, readOnly }: { form: UseFormReturnType<UpstreamFormValues>; readOnly: boolean }) {
  const c = form.values.consul;
  const svcs = useQuery({
    queryKey: ['targets', 'consul', 'services'],
    queryFn: () => get<{ items?: { name: string; tags?: string[] }[] }>('/targets/consul/services'),
    retry: false,
    staleTime: 30_000,
  });
  const items = svcs.data?.items ?? [];
  const tags = items.find((s) => s.name === c.service)?.tags ?? [];
  return (
    <Stack gap="xs">
      {svcs.isError && <TargetNotice name="Consul" error={svcs.error} />}
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Autocomplete label="Service" data={items.map((s) => s.name)} disabled={readOnly} {...form.getInputProps('consul.service')} />
        <TagsInput label="Tags" description="Instances must carry all of them" data={tags} disabled={readOnly} {...form.getInputProps('consul.tags')} />
        <TextInput label="Datacenter" placeholder="the agent's" disabled={readOnly} {...form.getInputProps('consul.datacenter')} />
      </SimpleGrid>
      <Switch label="Only instances whose health checks pass" disabled={readOnly} {...form.getInputProps('consul.passingOnly', { type: 'checkbox' })} />
    </Stack>
  );
}
