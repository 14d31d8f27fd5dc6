import { Select } from '@mantine/core';
import { useLocalStorage } from '@mantine/hooks';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { useGateways } from './lib/queries';

const GatewayContext = createContext<{ gateway: string | undefined; setGateway: (g: string) => void }>({
  gateway: undefined,
  setGateway: () => {},
});

/** The gateway the sandbox, publish and history screens work on. */
export const useCurrentGateway = () => useContext(GatewayContext);

export function GatewayProvider({ children }: { children: ReactNode }) {
  const gws = useGateways();
  const [gateway, setGateway] = useLocalStorage<string>({ key: 'routedeck.gateway', defaultValue: '' });
  // A remembered gateway that no longer exists (or none yet) falls back to
  // the first one, so every screen has a gateway to work on.
  const names = gws.data?.items.map((g) => g.name).join('\n') ?? '';
  useEffect(() => {
    const list = names ? names.split('\n') : [];
    if (list.length > 0 && !list.includes(gateway)) setGateway(list[0]);
  }, [names, gateway, setGateway]);
  return <GatewayContext.Provider value={{ gateway: gateway || undefined, setGateway }}>{children}</GatewayContext.Provider>;
}

/** The gateway picker in the header. */
export function GatewayPicker() {
  const gws = useGateways();
  const { gateway, setGateway } = useCurrentGateway();
  return (
    <Select
      aria-label="Gateway"
      placeholder={gws.isPending ? 'Loading…' : 'No gateways'}
      data={gws.data?.items.map((g) => g.name) ?? []}
      value={gateway ?? null}
      onChange={(v) => v && setGateway(v)}
      w={200}
      size="xs"
      allowDeselect={false}
    />
  );
}
