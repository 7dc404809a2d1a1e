import type {
  AccessLimits,
  AppState,
  ClientListing,
  GrantInfo,
  KeyInfo,
  ProviderInfo,
} from '../../preload/contract.js';

const dateOf = (iso: string | null, none = 'never'): string =>
  iso === null ? none : iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatKeys(keys: KeyInfo[]): string {
  if (keys.length === 0) return 'No MCP keys.';
  return table([
    ['ID', 'PREFIX', 'NAME', 'SCOPE', 'STATE', 'LAST USED', 'EXPIRES', 'LIMITS'],
    ...keys.map((key) => [
      key.id,
      `${key.keyPrefix}…`,
      key.isThisMachine ? `${key.name} (this machine)` : key.name,
      key.scope,
      key.isActive ? 'active' : key.revokedAt ? 'revoked' : 'inactive',
      dateOf(key.lastUsedAt),
      dateOf(key.expiresAt, 'no expiry'),
      formatLimits(key),
    ]),
  ]);
}

/** The editors signed in with OAuth, listed like keys (`pm-mcp keys`). */
export function formatGrants(grants: GrantInfo[]): string {
  if (grants.length === 0) return 'No editors signed in with OAuth.';
  return table([
    ['ID', 'CLIENT', 'SCOPES', 'CREATED', 'LAST USED', 'LIMITS'],
    ...grants.map((grant) => [
      grant.id,
      grant.clientName,
      grant.scopes.join(' '),
      dateOf(grant.createdAt),
      dateOf(grant.lastUsedAt),
      formatLimits(grant),
    ]),
  ]);
}

/** `tools: a, b; projects: x` — or `none` for a key or grant limited by its scope alone. */
export function formatLimits(limits: AccessLimits): string {
  const parts = [
    limits.allowedTools ? `tools: ${limits.allowedTools.join(', ')}` : null,
    limits.allowedProjects ? `projects: ${limits.allowedProjects.join(', ')}` : null,
  ].filter((part) => part !== null);
  return parts.length > 0 ? parts.join('; ') : 'none';
}

export function providerState(provider: ProviderInfo): string {
  if (!provider.isActive) return 'inactive';
  if (provider.lastCheckOk === null) return 'not checked yet';
  return provider.lastCheckOk ? 'ok' : `failing: ${provider.lastCheckMessage ?? 'check failed'}`;
}

export function formatProviders(providers: ProviderInfo[]): string {
  if (providers.length === 0) {
    return 'No provider connections. Add one: pm-mcp providers add --type jira --name NAME --url URL --email EMAIL';
  }
  return table([
    ['ID', 'TYPE', 'NAME', 'URL', 'STATE'],
    ...providers.map((p) => [p.id, p.providerType, p.name, p.baseUrl, providerState(p)]),
  ]);
}

const keyHealthWords = {
  ok: 'working',
  rejected: 'REJECTED by the server (revoked or expired): run pm-mcp login to mint a new one',
  expiring: 'expiring soon (pm-mcp keys rotate)',
  unknown: 'not checked',
} as const;

export function formatStatus(state: AppState): string {
  const lines: string[] = [];
  const add = (label: string, value: string): void => {
    lines.push(`${(label === '' ? '' : `${label}:`).padEnd(11)}${value}`);
  };
  add('Status', `${state.level} — ${state.summary}`);
  add(
    'Server',
    state.serverUrl === null
      ? 'none'
      : `${state.serverUrl} (${state.serverReachable ? 'reachable' : 'NOT reachable'})`,
  );
  if (state.user === null) {
    add('User', 'not signed in');
  } else {
    add('User', state.user.name ? `${state.user.email} (${state.user.name})` : state.user.email);
    const key = state.key;
    add(
      'Key',
      key === null
        ? 'none on this machine'
        : `${key.keyPrefix}… "${key.name}", ${keyHealthWords[state.keyHealth]}; ` +
            `created ${dateOf(key.createdAt)}, last used ${dateOf(key.lastUsedAt)}, ` +
            `expires ${dateOf(key.expiresAt, 'never')}`,
    );
  }
  const proxy = state.proxy;
  add(
    'Proxy',
    proxy.running
      ? `running on http://127.0.0.1:${proxy.port}/mcp` +
          (proxy.requests > 0 ? ` (${proxy.requests} requests)` : '')
      : `not running (port ${proxy.port}; start it with pm-mcp proxy or the tray app)`,
  );
  if (state.user !== null) {
    if (state.providers.length === 0) add('Providers', 'none (pm-mcp providers add)');
    state.providers.forEach((p, index) => {
      add(
        index === 0 ? 'Providers' : '',
        `${p.name} (${p.providerType}) ${p.baseUrl} — ${providerState(p)}`,
      );
    });
  }
  // Columns as wide as the longest client name ("Amazon Q Developer CLI"), two spaces apart.
  const labelWidth = Math.max(0, ...state.clients.map((client) => client.label.length)) + 2;
  state.clients.forEach((client, index) => {
    const detail = client.state === 'current' ? 'configured' : client.state;
    const installed = client.installed ? '' : ' (not installed)';
    add(
      index === 0 ? 'Clients' : '',
      `${client.label.padEnd(labelWidth)}${detail.padEnd(12)}${client.path}${installed}`,
    );
  });
  return lines.join('\n');
}

const clientStateWords = {
  current: 'configured',
  changed: 'CHANGED (pm-mcp configure <client> repairs it)',
  missing: 'not configured',
  unparseable: 'file cannot be read',
} as const;

/** `pm-mcp clients`: every client, installed ones first, with what to run next. */
export function formatClients(clients: ClientListing[]): string {
  const rows = clients.map((client) => [
    client.client,
    client.label,
    client.installed ? 'yes' : 'no',
    clientStateWords[client.state],
    client.path,
  ]);
  const lines = [table([['CLIENT', 'NAME', 'INSTALLED', 'STATE', 'FILE'], ...rows])];
  const links = clients.filter((client) => client.installLink !== null);
  if (links.length > 0) {
    lines.push('', 'One-click install links (secret-free; the editor asks you to confirm):');
    for (const client of links) lines.push(`  ${client.label}: ${client.installLink ?? ''}`);
  }
  lines.push('', 'Configure one: pm-mcp configure <client>');
  return lines.join('\n');
}
