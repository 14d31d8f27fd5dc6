import { Badge, Button, Fieldset, Group, SimpleGrid, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconLock } from '@tabler/icons-react';
import { useState } from 'react';
import { useParams } from 'react-router';
import { DelayedLoader, ErrorNotice } from '../components/Loading';
import { ObjectEditorShell, SectionError, useObjectEditor, type ObjectKind } from '../components/ObjectEditor';
import type { Secret } from '../lib/model';
import { SECRET_CONTAINERS, formFieldKnown, formToSecret, hasStoredKey, secretToForm, type SecretFormValues } from '../lib/objectForms';
import { useObject } from '../lib/queries';

/** /secrets/new and /secrets/:name. */
export default function SecretEditorPage() {
  const { name } = useParams();
  const q = useObject<Secret>('secrets', name);
  const [generation, setGeneration] = useState(0);
  if (name && q.isPending) return <DelayedLoader />;
  if (name && q.isError) return <ErrorNotice error={q.error} title={`Cannot open secret ${name}`} />;
  const reload = async () => {
    await q.refetch();
    setGeneration((g) => g + 1);
  };
  return <SecretEditor key={`${name ?? ''}#${generation}`} initial={q.data ?? { name: '' }} isNew={!name} onReload={reload} />;
}

const PEM_PLACEHOLDER = '-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----';

function SecretEditor({ initial, isNew, onReload }: { initial: Secret; isNew: boolean; onReload: () => void }) {
  const stored = hasStoredKey(initial);
  // The stored key is never shown: the field appears only to replace it.
  const [replacing, setReplacing] = useState(!stored);
  const kind: ObjectKind<SecretFormValues, Secret> = {
    collection: 'secrets',
    label: 'secret',
    toObject: (v) => formToSecret(v, stored),
    known: (v) => formFieldKnown(v, SECRET_CONTAINERS),
  };
  const form = useForm<SecretFormValues>({
    initialValues: secretToForm(initial),
    validate: { name: (v) => (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(v) ? null : 'Use lower-case letters, digits, "-" and "."') },
  });
  const editor = useObjectEditor(kind, form, isNew);
  const ro = !editor.canEdit;
  return (
    <ObjectEditorShell title={isNew ? 'New secret' : initial.name} isNew={isNew} label="secret" editor={editor} version={form.values.version} onReload={onReload}>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <TextInput label="Name" required readOnly={!isNew} disabled={ro} {...form.getInputProps('name')} />
        <TextInput label="Description" disabled={ro} {...form.getInputProps('description')} />
      </SimpleGrid>
      <SectionError error={form.errors['']} />
      <Fieldset legend="TLS certificate and key (for HTTPS listeners)">
        <Stack gap="xs">
          <SectionError error={form.errors.tls} />
          <Textarea label="Certificate chain (PEM, leaf first)" autosize minRows={3} maxRows={12} classNames={{ input: 'mono' }} placeholder={PEM_PLACEHOLDER} disabled={ro} {...form.getInputProps('tls.certificate')} />
          {replacing ? (
            <Textarea
              label="Private key (PEM)"
              description="Write-only: once saved it is never shown again."
              autosize
              minRows={3}
              maxRows={12}
              classNames={{ input: 'mono' }}
              placeholder="-----BEGIN PRIVATE KEY-----"
              disabled={ro}
              {...form.getInputProps('tls.privateKey')}
            />
          ) : (
            <Stack gap={4}>
              <Text size="sm" fw={500}>Private key</Text>
              <Group gap="xs">
                <Badge variant="light" color="gray" leftSection={<IconLock size={12} />} data-testid="stored-key">stored, hidden</Badge>
                <Button size="xs" variant="light" disabled={ro} onClick={() => setReplacing(true)}>Replace</Button>
              </Group>
              {form.errors['tls.privateKey'] && <Text size="xs" c="red" role="alert">{form.errors['tls.privateKey']}</Text>}
            </Stack>
          )}
          {stored && replacing && (
            <Group>
              <Button size="xs" variant="subtle" onClick={() => { form.setFieldValue('tls.privateKey', ''); setReplacing(false); }}>
                Keep the stored key
              </Button>
            </Group>
          )}
        </Stack>
      </Fieldset>
      <Fieldset legend="CA certificates (to verify upstreams)">
        <Textarea label="CA bundle (PEM)" autosize minRows={3} maxRows={12} classNames={{ input: 'mono' }} placeholder={PEM_PLACEHOLDER} disabled={ro} {...form.getInputProps('ca')} />
      </Fieldset>
    </ObjectEditorShell>
  );
}
