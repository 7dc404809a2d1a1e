import type {
  AccessLimits,
  AppState,
  AutoConfiguredClient,
  ClientListing,
  ClientStatus,
  GrantInfo,
  KeyHealth,
  KeyInfo,
  ProviderInfo,
  ProxyStatus,
  SignedInUser,
} from '../../preload/contract.js';
import type { ServerGrant, ServerKey, ServerProvider } from '../account/server-api.js';

function limitsOf(row: ServerKey | ServerGrant): AccessLimits {
  return { allowedTools: row.allowed_tools, allowedProjects: row.allowed_projects };
}

export function toKeyInfo(key: ServerKey, thisMachineKeyId: string | null): KeyInfo {
  return {
    id: key.id,
    name: key.name,
    keyPrefix: key.key_prefix,
    scope: key.scope,
    isActive: key.is_active,
    createdAt: key.created_at,
    lastUsedAt: key.last_used_at,
    expiresAt: key.expires_at,
    revokedAt: key.revoked_at,
    isThisMachine: key.id === thisMachineKeyId,
    ...limitsOf(key),
  };
}

export function toGrantInfo(grant: ServerGrant): GrantInfo {
  return {
    id: grant.id,
    clientId: grant.client_id,
    clientName: grant.client_name,
    scopes: grant.scope.split(' ').filter((scope) => scope !== ''),
    createdAt: grant.created_at,
    lastUsedAt: grant.last_used_at,
    expiresAt: grant.expires_at,
    ...limitsOf(grant),
  };
}

export function toProviderInfo(provider: ServerProvider): ProviderInfo {
  return {
    id: provider.id,
    providerType: provider.provider_type,
    name: provider.name,
    baseUrl: provider.base_url,
    isActive: provider.is_active,
    createdAt: provider.created_at,
    lastCheckedAt: provider.last_checked_at,
    lastCheckOk: provider.last_check_ok,
    lastCheckMessage: provider.last_check_message,
  };
}

export interface StateFacts {
  serverUrl: string | null;
  serverReachable: boolean;
  user: SignedInUser | null;
  key: KeyInfo | null;
  keyHealth: KeyHealth;
  proxy: ProxyStatus;
  /** Why the proxy is not running when it should (e.g. port in use), or null. */
  proxyProblem: string | null;
  /** The keychain could not be used, in words for the user, or null. */
  keychainProblem: string | null;
  clients: ClientListing[];
  /** What the app configured by itself and may still be undone. */
  autoConfigured: AutoConfiguredClient | null;
  /** Clients the user configured (only those count for drift). */
  configuredClients: ClientStatus[];
  providers: ProviderInfo[];
  /** Shown while signed out (e.g. the last sign-out could not revoke the key). */
  signedOutNote: string | null;
}

function hostOf(serverUrl: string): string {
  try {
    return new URL(serverUrl).host;
  } catch {
    return serverUrl;
  }
}

/** The tray's line and colour: the most urgent problem wins. */
export function summarize(facts: StateFacts): Pick<AppState, 'summary' | 'level'> {
  if (facts.keychainProblem !== null) return { level: 'error', summary: facts.keychainProblem };
  if (facts.user === null || facts.serverUrl === null) {
    return { level: 'signed-out', summary: facts.signedOutNote ?? 'Not signed in' };
  }
  const host = hostOf(facts.serverUrl);
  if (!facts.serverReachable) return { level: 'error', summary: `Cannot reach ${host}` };
  if (facts.proxyProblem !== null) return { level: 'error', summary: facts.proxyProblem };
  if (facts.keyHealth === 'rejected') {
    return {
      level: 'attention',
      summary: "This machine's key was revoked or has expired: mint a new one",
    };
  }
  if (facts.keyHealth === 'expiring') {
    const when = facts.key?.expiresAt ? ` on ${facts.key.expiresAt.slice(0, 10)}` : '';
    return { level: 'attention', summary: `This machine's key expires${when}: rotate it` };
  }
  const drifted = facts.configuredClients.find(
    (client) => client.state === 'changed' || client.state === 'unparseable',
  );
  if (drifted) {
    return {
      level: 'attention',
      summary:
        drifted.state === 'unparseable'
          ? `${drifted.label}'s config file cannot be read: fix it`
          : `${drifted.label}'s PM MCP entry changed: repair it`,
    };
  }
  const removed = facts.configuredClients.find((client) => client.state === 'missing');
  if (removed) {
    return { level: 'attention', summary: `${removed.label} lost its PM MCP entry: repair it` };
  }
  const failing = facts.providers.find(
    (provider) => provider.isActive && provider.lastCheckOk === false,
  );
  if (failing) {
    return {
      level: 'attention',
      summary: `${failing.name}: ${failing.lastCheckMessage ?? 'the last check failed'}`,
    };
  }
  return { level: 'connected', summary: `Connected to ${host} as ${facts.user.email}` };
}

export function buildAppState(facts: StateFacts): AppState {
  return {
    serverUrl: facts.serverUrl,
    serverReachable: facts.serverReachable,
    user: facts.user,
    key: facts.key,
    keyHealth: facts.keyHealth,
    proxy: facts.proxy,
    clients: facts.clients,
    autoConfigured: facts.autoConfigured,
    providers: facts.providers,
    ...summarize(facts),
  };
}
