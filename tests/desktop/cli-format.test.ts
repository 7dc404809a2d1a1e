import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../main/cli/format.js';
import { clientDefinitions } from '../../main/clients/registry.js';
import type { AppState, ClientConfigState, ClientListing } from '../../preload/contract.js';

/** `pm-mcp status` as a user reads it: one aligned line per client, whatever the names. */
describe('pm-mcp status', () => {
  const states: ClientConfigState[] = ['current', 'missing', 'changed', 'unparseable'];
  const clients: ClientListing[] = Object.values(clientDefinitions).map((definition, index) => ({
    client: definition.id,
    label: definition.label,
    path: `/home/dev/.config/${definition.id}/config`,
    state: states[index % states.length] as ClientConfigState,
    detail: null,
    installed: index % 2 === 0,
    installLink: null,
  }));
  const state: AppState = {
    serverUrl: 'http://127.0.0.1:8080',
    serverReachable: true,
    user: null,
    key: null,
    keyHealth: 'unknown',
    proxy: {
      running: false,
      port: 8765,
      requests: 0,
      lastRequestAt: null,
      lastUpstreamError: null,
    },
    clients,
    autoConfigured: null,
    providers: [],
    summary: 'Signed out',
    level: 'signed-out',
  };

  it('keeps every client name apart from its state, the longest included', () => {
    const lines = formatStatus(state).split('\n');
    const clientLines = lines.slice(lines.findIndex((line) => line.startsWith('Clients:')));
    expect(clientLines).toHaveLength(clients.length);
    const stateColumn = new Set<number>();
    clientLines.forEach((line, index) => {
      const client = clients[index] as ClientListing;
      const words = client.state === 'current' ? 'configured' : client.state;
      const at = line.indexOf(client.label) + client.label.length;
      expect(line.slice(at, at + 2), line).toBe('  ');
      expect(line.slice(at).trimStart().startsWith(words), line).toBe(true);
      stateColumn.add(line.indexOf(words, at));
    });
    expect(stateColumn.size, 'the state column is aligned').toBe(1);
  });
});
