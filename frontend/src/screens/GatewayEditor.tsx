import { ActionIcon, Button, Card, Fieldset, Group, NumberInput, Select, SimpleGrid, Stack, Switch, TagsInput, Text, TextInput, Textarea } from '@mantine/core';
import { useForm, type UseFormReturnType } from '@mantine/form';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { useParams } from 'react-router';
import { ApiDocs } from '../components/ApiDocs';
import { DeployExport } from '../components/DeployExport';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { RequestLogLink } from '../components/RequestLogLink';
import { LocalGateway } from '../components/LocalGateway';
import { ObjectEditorShell, SectionError, useObjectEditor, type ObjectKind } from '../components/ObjectEditor';
import type { Gateway } from '../lib/model';
import { GATEWAY_CONTAINERS, formFieldKnown, formToGateway, gatewayToForm, type GatewayFormValues } from '../lib/objectForms';
import { useObject, useSecrets } from '../lib/queries';

const KIND: ObjectKind<GatewayFormValues, Gateway> = {
  collection: 'gateways',
  label: 'gateway',
  toObject: formToGateway,
  known: (v) => formFieldKnown(v, GATEWAY_CONTAINERS),
};

const NEW: Gateway = { name: '', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] };

/** /gateways/new and /gateways/:name. */
export default function GatewayEditorPage() {
  const { name } = useParams();
  const q = useObject<Gateway>('gateways', name);
  const [generation, setGeneration] = useState(0);
  if (name && q.isPending) return <DelayedLoader />;
  if (name && q.isError) return <ErrorNotice error={q.error} title={`Cannot open gateway ${name}`} />;
  const reload = async () => {
    await q.refetch();
    setGeneration((g) => g + 1);
  };
  return (
    <Stack maw={1100}>
      {name && <RequestLogLink gateway={name} />}
      <GatewayEditor key={`${name ?? ''}#${generation}`} initial={q.data ?? NEW} isNew={!name} onReload={reload} />
      {/* Below the settings it acts on; outside the editor's form, so its buttons and Ctrl/⌘+Enter do not save the gateway. */}
      {name && <LocalGateway gateway={name} />}
      {name && <ApiDocs gateway={name} />}
      {name && <DeployExport gateway={name} />}
    </Stack>
  );
}

function GatewayEditor({ initial, isNew, onReload }: { initial: Gateway; isNew: boolean; onReload: () => void }) {
  const form = useForm<GatewayFormValues>({
    initialValues: gatewayToForm(initial),
    validate: { name: (v) => (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(v) ? null : 'Use lower-case letters, digits, "-" and "."') },
  });
  const editor = useObjectEditor(KIND, form, isNew);
  const secrets = useSecrets();
  const certNames = secrets.data?.items.filter((s) => s.tls).map((s) => s.name) ?? [];
  const ro = !editor.canEdit;
  const v = form.values;
  return (
    <ObjectEditorShell title={isNew ? 'New gateway' : initial.name} isNew={isNew} label="gateway" editor={editor} version={v.version} onReload={onReload}>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <TextInput label="Name" description="The node.cluster its Envoys announce" required readOnly={!isNew} disabled={ro} {...form.getInputProps('name')} />
        <TextInput label="Description" disabled={ro} {...form.getInputProps('description')} />
      </SimpleGrid>
      <Fieldset legend="Listeners">
        <Stack gap="sm">
          <SectionError error={form.errors.listeners} />
          {v.listeners.map((l, i) => (
            <Card key={i} withBorder padding="sm" data-testid="listener">
              <Stack gap="xs">
                <SectionError error={form.errors[`listeners.${i}`]} />
                <Group align="flex-start" gap="xs">
                  <TextInput label="Name" aria-label={`Listener ${i + 1} name`} w={160} disabled={ro} {...form.getInputProps(`listeners.${i}.name`)} />
                  <TextInput label="Address" placeholder="0.0.0.0" w={160} disabled={ro} {...form.getInputProps(`listeners.${i}.address`)} />
                  <NumberInput label="Port" aria-label={`Listener ${i + 1} port`} min={1} max={65535} w={110} disabled={ro} {...form.getInputProps(`listeners.${i}.port`)} />
                  <Select label="Protocol" aria-label={`Listener ${i + 1} protocol`} data={['HTTP', 'HTTPS']} w={120} allowDeselect={false} disabled={ro} {...form.getInputProps(`listeners.${i}.protocol`)} />
                  {l.protocol === 'HTTPS' && (
                    <Select label="Min TLS version" placeholder="1.2" clearable data={['1.2', '1.3']} w={130} disabled={ro} {...form.getInputProps(`listeners.${i}.tls.minVersion`)} />
                  )}
                  <ActionIcon mt={28} variant="subtle" color="red" aria-label={`Remove listener ${i + 1}`} disabled={ro} onClick={() => form.removeListItem('listeners', i)}>
                    <IconTrash size={14} />
                  </ActionIcon>
                </Group>
                {l.protocol === 'HTTPS' && <Certificates form={form} index={i} secrets={certNames} readOnly={ro} />}
              </Stack>
            </Card>
          ))}
          <Group>
            <Button
              size="xs"
              variant="light"
              leftSection={<IconPlus size={14} />}
              disabled={ro}
              onClick={() => form.insertListItem('listeners', { name: '', address: '', port: '', protocol: 'HTTP', tls: { certificates: [], minVersion: '' } })}
            >
              Listener
            </Button>
          </Group>
        </Stack>
      </Fieldset>
      <Fieldset legend="Default response">
        <Stack gap="xs">
          <Switch label="Answer requests no route matches (otherwise Envoy answers 404 with an empty body)" disabled={ro} {...form.getInputProps('defaultResponseOn', { type: 'checkbox' })} />
          <SectionError error={form.errors.defaultResponse} />
          {v.defaultResponseOn && (
            <SimpleGrid cols={{ base: 1, md: 4 }}>
              <NumberInput label="Status" min={200} max={599} disabled={ro} {...form.getInputProps('defaultResponse.status')} />
              <Textarea label="Body" autosize minRows={1} classNames={{ input: 'mono' }} style={{ gridColumn: 'span 3' }} disabled={ro} {...form.getInputProps('defaultResponse.body')} />
            </SimpleGrid>
          )}
        </Stack>
      </Fieldset>
    </ObjectEditorShell>
  );
}

function Certificates({ form, index, secrets, readOnly }: { form: UseFormReturnType<GatewayFormValues>; index: number; secrets: string[]; readOnly: boolean }) {
  const base = `listeners.${index}.tls.certificates`;
  const certs = form.values.listeners[index].tls.certificates;
  return (
    <Stack gap={6}>
      <Text size="sm" fw={500}>Certificates, chosen by server name (one without names is the default)</Text>
      <SectionError error={form.errors[base] ?? form.errors[`listeners.${index}.tls`]} />
      {certs.map((_, j) => (
        <Group key={j} align="flex-start" gap="xs">
          <Select
            aria-label={`Listener ${index + 1} certificate ${j + 1} secret`}
            placeholder="TLS secret"
            searchable
            data={secrets}
            w={240}
            disabled={readOnly}
            {...form.getInputProps(`${base}.${j}.secret`)}
          />
          <TagsInput aria-label={`Listener ${index + 1} certificate ${j + 1} hosts`} placeholder="server names (SNI)" w={380} disabled={readOnly} {...form.getInputProps(`${base}.${j}.hosts`)} />
          <ActionIcon mt={4} variant="subtle" color="red" aria-label={`Remove certificate ${j + 1}`} disabled={readOnly} onClick={() => form.removeListItem(base, j)}>
            <IconTrash size={14} />
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button size="xs" variant="subtle" leftSection={<IconPlus size={14} />} disabled={readOnly} onClick={() => form.insertListItem(base, { secret: '', hosts: [] })}>
          Certificate
        </Button>
      </Group>
    </Stack>
  );
}
