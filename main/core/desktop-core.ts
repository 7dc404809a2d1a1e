import { watch, type FSWatcher, promises as fs } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import {
  clientIds,
  providerTypes,
  type AddProviderInput,
  type AppState,
  type ClientId,
  type ClientStatus,
  type DesktopApi,
  type KeyHealth,
  type KeyInfo,
  type ProviderInfo,
  type ProviderTestResult,
  type ProxyStatus,
  type RotatedKey,
  type Settings,
  type SignInInput,
} from '../../preload/contract.js';
import {
  createAccountService,
  type AccountService,
  type SignOutResult,
} from '../account/account-service.js';
import { keyRotationDue } from '../account/key-rotation.js';
import type { ServerApi, ServerKey, ServerProvider } from '../account/server-api.js';
import {
  configureClient,
  inspectClient,
  proxyMcpUrl,
  serverMcpUrl,
  toClientStatus,
  unconfigureClient,
  type ClientEnvironment,
  type ClientTarget,
} from '../clients/index.js';
import { DesktopError, isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import { createLoopbackProxy, generateLocalToken } from '../proxy/proxy.js';
import {
  createSettingsStore,
  type ConfiguredClient,
  type SettingsFile,
  type SettingsStore,
} from '../state/settings.js';
import { buildAppState, toKeyInfo, toProviderInfo } from './app-state.js';
import { defaultBridgeCommand, type BridgeCommand } from './bridge-command.js';
import { probeLoopbackPort } from './port-probe.js';
import type { LoopbackProxyFactory, LoopbackProxyHandle } from './proxy-port.js';

export interface DesktopCoreOptions {
  configDir: string;
  secretStore: SecretStore;
  clientEnvironment: ClientEnvironment;
  /** Names the key minted for this machine; defaults to `os.hostname()`. */
  hostname?: string;
  now?: () => Date;
  /**
   * The program (and leading arguments) that runs `pm-mcp` for Claude Desktop's stdio bridge;
   * `--home` and `bridge` are appended. Defaults to Node running `bin/pm-mcp.js`, right for the
   * CLI and for Electron run from source; the packaged app passes its own executable.
   */
  bridgeLauncher?: BridgeCommand;
  /** Defaults to `main/proxy`'s `createLoopbackProxy`. */
  createProxy?: LoopbackProxyFactory;
  /** Makes the local proxy token; defaults to `main/proxy`'s `generateLocalToken`. */
  generateLocalToken?: () => string;
  /** The server API client per server URL (tests may wrap it). */
  createApi?: (baseUrl: string) => ServerApi;
  /** How often the key's expiry is checked and the session kept alive (default one hour). */
  maintenanceIntervalMs?: number;
  /** Follow changes another process (the CLI, the tray app) makes to the settings file. Default true. */
  watchSettings?: boolean;
}

export interface ConfigureClientOptions {
  /** Write the server URL and the MCP key itself instead of the loopback proxy (`--direct`). */
  direct?: boolean;
  /** Absolute project folder: write the project-level file. */
  projectDir?: string;
}

export interface ClientChange extends ClientStatus {
  /** What the user should know or do next. */
  notes: string[];
  changed: boolean;
  backupPath: string | null;
  /** Display prefixes of MCP keys this change took out of the client's files: offer to revoke them. */
  exposedKeyPrefixes: string[];
  /** A client PM MCP cannot write (JetBrains): the JSON to paste (holds no secret). */
  copyText?: string;
}

export interface DesktopCore extends DesktopApi {
  readonly configDir: string;
  /** Loads the state, checks the key's expiry, and (unless `proxy: false`) starts the proxy when signed in. */
  start(options?: { proxy?: boolean }): Promise<AppState>;
  /** Stops the proxy, timers and watchers. */
  stop(): Promise<void>;
  onStateChanged(listener: (state: AppState) => void): () => void;
  /** The state from what is known now, without asking the server. */
  currentState(): Promise<AppState>;
  configureClient(client: ClientId, options?: ConfigureClientOptions): Promise<ClientChange>;
  unconfigureClient(client: ClientId, options?: { projectDir?: string }): Promise<ClientChange>;
  /** `signOut` plus what happened on the server (for the CLI's message). */
  signOutWithResult(): Promise<{ state: AppState; result: SignOutResult }>;
  /**
   * Starts the proxy now on the saved port (the `proxy` command; change the port with
   * `updateSettings`); throws when it cannot (e.g. port in use).
   */
  startProxy(): Promise<ProxyStatus>;
  stopProxy(): Promise<void>;
  /** Where the bridge connects: the proxy's MCP URL and the local token. */
  proxyEndpoint(): Promise<{ url: string; localToken: string }>;
  /** The server's MCP URL and this machine's key, for `bridge --direct`. */
  directEndpoint(): Promise<{ url: string; apiKey: string }>;
  /** A new local proxy token; configured clients are rewritten with it. */
  rotateLocalToken(): Promise<ClientChange[]>;
  /** Rotates the key if it is close to expiry; returns whether it did. */
  rotateKeyIfDue(): Promise<boolean>;
}

const signInInputSchema = z.object({
  serverUrl: z.string().min(1).max(2048),
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
  createAccount: z.boolean().optional(),
  name: z.string().max(200).optional(),
  allowInsecure: z.boolean().optional(),
});
const settingsPatchSchema = z
  .object({
    serverUrl: z.string().max(2048).nullable(),
    proxyPort: z.number().int().min(1024).max(65_535),
    startAtLogin: z.boolean(),
  })
  .partial()
  .strict();
const addProviderSchema = z.object({
  providerType: z.enum(providerTypes),
  name: z.string().trim().min(1).max(100),
  baseUrl: z.string().trim().min(1).max(2048),
  email: z.string().trim().max(320).optional(),
  apiToken: z.string().min(1).max(4096),
});
const idSchema = z.string().min(1).max(200);
const clientIdSchema = z.enum(clientIds);

function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new DesktopError('usage', `Invalid ${what}: ${field}${issue?.message ?? 'invalid'}`);
}

function sameClient(a: ConfiguredClient, client: ClientId, project: string | null): boolean {
  return a.client === client && a.project === project;
}

/**
 * The desktop app's core: sign-in, the keychain, the loopback proxy, client configuration and
 * the state the tray and window show. The Electron shell, the `pm-mcp` CLI and the tests build
 * one with their own keychain, folders and clock.
 */
export function createDesktopCore(options: DesktopCoreOptions): DesktopCore {
  const { configDir, secretStore: secrets, clientEnvironment } = options;
  const now = options.now ?? (() => new Date());
  const hostname = options.hostname ?? osHostname();
  const bridge = defaultBridgeCommand(configDir, clientEnvironment, options.bridgeLauncher);
  const maintenanceIntervalMs = options.maintenanceIntervalMs ?? 3_600_000;
  const settingsStore: SettingsStore = createSettingsStore(configDir);
  const account: AccountService = createAccountService({
    settings: settingsStore,
    secrets,
    hostname,
    now,
    ...(options.createApi ? { createApi: options.createApi } : {}),
  });

  // Secrets held in memory after one keychain read: the proxy's getters are synchronous.
  let mcpKey: string | undefined;
  let localToken: string | undefined;

  let settings: SettingsFile | undefined;
  let keyRejected = false;
  let serverReachable = true;
  let keys: ServerKey[] = [];
  let providers: ServerProvider[] = [];
  let keychainProblem: string | null = null;
  let signedOutNote: string | null = null;

  let proxy: LoopbackProxyHandle | undefined;
  let proxyUpstream: string | undefined;
  let proxyPort: number | undefined;
  let proxyProblem: string | null = null;
  let unsubscribeProxy: (() => void) | undefined;
  let wantProxy = false;

  let maintenanceTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const listeners = new Set<(state: AppState) => void>();
  let refreshing: Promise<AppState> | undefined;
  let queuedRefresh: Promise<AppState> | undefined;

  async function loadSettings(): Promise<SettingsFile> {
    settings = await settingsStore.load();
    return settings;
  }

  const isSignedIn = (s: SettingsFile): s is SettingsFile & { serverUrl: string } =>
    s.serverUrl !== null && s.account !== null;

  /** Runs a keychain read, recording (not throwing) a missing keychain for the state. */
  async function noteKeychain<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await read();
      keychainProblem = null;
      return value;
    } catch (error) {
      if (isDesktopError(error) && error.code === 'keychain_unavailable') {
        keychainProblem = error.message;
        return undefined;
      }
      throw error;
    }
  }

  async function loadMcpKey(s: SettingsFile): Promise<void> {
    mcpKey = isSignedIn(s) ? await secrets.get(secretNames.mcpKey(s.serverUrl)) : undefined;
  }

  async function ensureLocalToken(): Promise<string> {
    if (localToken !== undefined) return localToken;
    const stored = await secrets.get(secretNames.localProxyToken);
    if (stored !== undefined) {
      localToken = stored;
      return stored;
    }
    const created = makeLocalToken();
    await secrets.set(secretNames.localProxyToken, created);
    localToken = created;
    return created;
  }

  function makeLocalToken(): string {
    return (options.generateLocalToken ?? generateLocalToken)();
  }

  // ---- the proxy ----

  async function startProxyFor(
    s: SettingsFile & { serverUrl: string },
    port: number,
  ): Promise<void> {
    await ensureLocalToken();
    if (proxy && proxyUpstream === s.serverUrl && proxyPort === port) return;
    await stopProxyNow();
    const create = options.createProxy ?? createLoopbackProxy;
    const handle = create({
      port,
      upstreamBaseUrl: s.serverUrl,
      credentials: { apiKey: () => mcpKey, localToken: () => localToken },
    });
    try {
      await handle.start();
    } catch (error) {
      proxyProblem = error instanceof Error ? error.message : String(error);
      throw isDesktopError(error)
        ? error
        : new DesktopError(
            'port_in_use',
            `The local proxy could not start on port ${port}: ${proxyProblem}`,
            {
              cause: error,
            },
          );
    }
    proxy = handle;
    proxyUpstream = s.serverUrl;
    proxyPort = port;
    proxyProblem = null;
    unsubscribeProxy = handle.onUpstreamUnauthorized(() => {
      void onUpstreamUnauthorized();
    });
  }

  async function stopProxyNow(): Promise<void> {
    unsubscribeProxy?.();
    unsubscribeProxy = undefined;
    const running = proxy;
    proxy = undefined;
    proxyUpstream = undefined;
    proxyPort = undefined;
    await running?.stop();
  }

  /** Starts, moves or stops the proxy to match the settings, when this process runs one. */
  async function syncProxy(s: SettingsFile): Promise<void> {
    if (!wantProxy) return;
    if (!isSignedIn(s)) {
      await stopProxyNow();
      return;
    }
    try {
      await startProxyFor(s, s.proxyPort);
    } catch (error) {
      // The tray shows why; the CLI's `proxy` command calls startProxy, which throws.
      proxyProblem = error instanceof Error ? error.message : String(error);
    }
  }

  async function onUpstreamUnauthorized(): Promise<void> {
    // Another process may have rotated the key: use the keychain's if it changed.
    const s = await loadSettings().catch(() => settings);
    const stored =
      s && isSignedIn(s)
        ? await noteKeychain(() => secrets.get(secretNames.mcpKey(s.serverUrl)))
        : undefined;
    if (stored !== undefined && stored !== mcpKey) {
      mcpKey = stored;
      keyRejected = false;
    } else if (keyRejected) {
      return; // already known (an editor retrying must not flood the listeners)
    } else {
      keyRejected = true;
    }
    await emit();
  }

  async function proxyStatus(s: SettingsFile): Promise<ProxyStatus> {
    if (proxy) return proxy.status();
    // Another process (the tray app or `pm-mcp proxy`) may run it.
    const running = await probeLoopbackPort(s.proxyPort);
    return {
      running,
      port: s.proxyPort,
      requests: 0,
      lastRequestAt: null,
      lastUpstreamError: null,
    };
  }

  // ---- clients ----

  async function targetFor(mode: 'proxy' | 'direct', s: SettingsFile): Promise<ClientTarget> {
    const bridgeFields = {
      bridgeCommand: bridge.command,
      bridgeArgs: mode === 'direct' ? [...bridge.args, '--direct'] : [...bridge.args],
    };
    if (mode === 'proxy') {
      return {
        mode: 'proxy',
        proxyUrl: proxyMcpUrl(s.proxyPort),
        localToken: await ensureLocalToken(),
        ...bridgeFields,
      };
    }
    if (!isSignedIn(s)) {
      throw new DesktopError(
        'not_signed_in',
        'Direct mode writes your MCP key into the client file: sign in first (pm-mcp login)',
      );
    }
    const apiKey = mcpKey ?? (await secrets.get(secretNames.mcpKey(s.serverUrl)));
    if (apiKey === undefined) {
      throw new DesktopError(
        'key_rejected',
        "This machine's MCP key is missing from the keychain: sign in again",
      );
    }
    return { mode: 'direct', serverUrl: serverMcpUrl(s.serverUrl), apiKey, ...bridgeFields };
  }

  async function clientStatuses(
    s: SettingsFile,
  ): Promise<{ all: ClientStatus[]; configured: ClientStatus[] }> {
    const all: ClientStatus[] = [];
    const configured: ClientStatus[] = [];
    const userLevel = new Map(
      s.configuredClients.filter((c) => c.project === null).map((c) => [c.client, c]),
    );
    const inspect = async (
      client: ClientId,
      mode: 'proxy' | 'direct',
      projectDir?: string,
    ): Promise<ClientStatus> => {
      const target = await targetFor(mode, s).catch(() => targetFor('proxy', s));
      const clientOptions = {
        environment: clientEnvironment,
        ...(projectDir !== undefined ? { projectDir } : {}),
      };
      try {
        return toClientStatus(await inspectClient(client, target, clientOptions));
      } catch (error) {
        if (isDesktopError(error) && error.code === 'keychain_unavailable') throw error;
        // One client that cannot be inspected must not hide the others (or the whole state).
        return {
          client,
          label: client,
          path: projectDir ?? '',
          state: 'unparseable',
          detail: error instanceof Error ? error.message : String(error),
        };
      }
    };
    for (const client of clientIds) {
      const record = userLevel.get(client);
      const status = await inspect(client, record?.mode ?? 'proxy');
      all.push(status);
      if (record) configured.push(status);
    }
    for (const record of s.configuredClients.filter((c) => c.project !== null)) {
      const status = await inspect(record.client, record.mode, record.project ?? undefined);
      all.push(status);
      configured.push(status);
    }
    return { all, configured };
  }

  async function recordClient(
    client: ClientId,
    project: string | null,
    mode: 'proxy' | 'direct' | null,
  ): Promise<void> {
    settings = await settingsStore.update((current) => {
      const others = current.configuredClients.filter((c) => !sameClient(c, client, project));
      return {
        ...current,
        configuredClients: mode === null ? others : [...others, { client, project, mode }],
      };
    });
  }

  // ---- state ----

  function machineKeyInfo(s: SettingsFile): KeyInfo | null {
    const known = s.machineKey;
    if (known === null) return null;
    const listed = keys.find((key) => key.id === known.id);
    if (listed) return toKeyInfo(listed, known.id);
    return {
      id: known.id,
      name: known.name,
      keyPrefix: known.prefix,
      scope: known.scope,
      isActive: !keyRejected,
      createdAt: known.createdAt,
      lastUsedAt: null,
      expiresAt: known.expiresAt,
      revokedAt: null,
      isThisMachine: true,
    };
  }

  function keyHealth(s: SettingsFile, checked: boolean): KeyHealth {
    if (!isSignedIn(s)) return 'unknown';
    if (keyRejected) return 'rejected';
    if (s.machineKey && keyRotationDue(s.machineKey, now())) return 'expiring';
    return checked && serverReachable ? 'ok' : 'unknown';
  }

  let lastCheckOk = false;

  async function computeState(): Promise<AppState> {
    const s = settings ?? (await loadSettings());
    let clients: ClientStatus[] = [];
    let configured: ClientStatus[] = [];
    const statuses = await noteKeychain(() => clientStatuses(s));
    if (statuses) ({ all: clients, configured } = statuses);
    const signedIn = isSignedIn(s);
    return buildAppState({
      serverUrl: s.serverUrl,
      serverReachable: signedIn ? serverReachable : false,
      user:
        signedIn && s.account
          ? { id: s.account.userId, email: s.account.email, name: s.account.name }
          : null,
      key: signedIn ? machineKeyInfo(s) : null,
      keyHealth: keyHealth(s, lastCheckOk),
      proxy: await proxyStatus(s),
      proxyProblem: wantProxy && signedIn ? proxyProblem : null,
      keychainProblem,
      clients,
      configuredClients: configured,
      providers: signedIn ? providers.map(toProviderInfo) : [],
      signedOutNote,
    });
  }

  /** Asks the server about the key, the keys and the providers, then computes the state. */
  async function refreshFromServer(): Promise<AppState> {
    const s = await loadSettings();
    if (isSignedIn(s)) {
      const [health, check, keyList, providerList] = await Promise.allSettled([
        account.serverReachable(),
        account.checkMachineKey(),
        account.listKeys(),
        account.listProviders(),
      ]);
      serverReachable = health.status === 'fulfilled' ? health.value : false;
      lastCheckOk = false;
      if (check.status === 'fulfilled') {
        keyRejected = check.value !== 'ok';
        lastCheckOk = check.value === 'ok';
      } else if (isDesktopError(check.reason) && check.reason.code === 'keychain_unavailable') {
        keychainProblem = check.reason.message;
      }
      if (keyList.status === 'fulfilled') keys = keyList.value;
      if (providerList.status === 'fulfilled') providers = providerList.value;
    }
    return computeState();
  }

  /**
   * Refreshes are shared, but never one that started before the caller asked: it may have
   * asked the server before a change the caller knows about (a key revoked elsewhere). Such
   * callers wait for one more refresh after it, shared among them.
   */
  function refreshState(): Promise<AppState> {
    if (refreshing) {
      queuedRefresh ??= refreshing
        .catch(() => undefined)
        .then(() => {
          queuedRefresh = undefined;
          return refreshState();
        });
      return queuedRefresh;
    }
    const started = refreshFromServer().finally(() => {
      refreshing = undefined;
    });
    refreshing = started;
    return started;
  }

  async function emit(state?: AppState): Promise<AppState> {
    const current = state ?? (await computeState());
    for (const listener of listeners) {
      try {
        listener(current);
      } catch {
        // A listener's failure is its own; the others still hear about the change.
      }
    }
    return current;
  }

  // ---- following other processes ----

  /** What the in-memory secrets and the proxy were last brought in line with. */
  interface Applied {
    serverUrl: string | null;
    userId: string | undefined;
    keyId: string | undefined;
    proxyPort: number;
    localTokenChangedAt: string | null;
  }
  let applied: Applied | undefined;
  const appliedFrom = (s: SettingsFile): Applied => ({
    serverUrl: s.serverUrl,
    userId: s.account?.userId,
    keyId: s.machineKey?.id,
    proxyPort: s.proxyPort,
    localTokenChangedAt: s.localTokenChangedAt,
  });

  /**
   * This process changed the settings itself (sign-in, rotation): record it, so the file watcher
   * firing later does not mistake it for another process's change and reset the key's health.
   */
  function noteOwnSettings(s: SettingsFile): void {
    applied = appliedFrom(s);
  }

  /** Another process (the CLI, the tray app) changed the settings: follow it. */
  async function reloadFromDisk(): Promise<void> {
    let s: SettingsFile;
    try {
      s = await loadSettings();
    } catch {
      return; // a half-written or corrupt file: the next change or refresh reports it
    }
    const previous = applied;
    const current = appliedFrom(s);
    if (previous && isDeepStrictEqual(previous, current)) return;
    applied = current;
    if (previous?.keyId !== current.keyId) keyRejected = false;
    await noteKeychain(async () => {
      await loadMcpKey(s);
      if (previous?.localTokenChangedAt !== current.localTokenChangedAt) {
        localToken = (await secrets.get(secretNames.localProxyToken)) ?? localToken;
      }
    });
    await syncProxy(s);
    await emit();
  }

  function watchSettingsFile(): void {
    if (options.watchSettings === false || watcher) return;
    try {
      watcher = watch(configDir, { persistent: false }, (_event, file) => {
        if (file !== null && file !== 'settings.json') return;
        if (reloadTimer) clearTimeout(reloadTimer);
        reloadTimer = setTimeout(() => {
          void reloadFromDisk();
        }, 50);
        reloadTimer.unref();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // periodic maintenance still catches up
    }
  }

  async function maintain(): Promise<void> {
    const s = await loadSettings();
    if (!isSignedIn(s)) return;
    const rotated = await account.rotateMachineKeyIfDue();
    if (rotated) {
      mcpKey = rotated.mcpKey;
      keyRejected = false;
      noteOwnSettings(await loadSettings());
    }
  }

  // ---- the API ----

  async function requireSignedInSettings(): Promise<SettingsFile & { serverUrl: string }> {
    const s = await loadSettings();
    if (!isSignedIn(s)) {
      throw new DesktopError(
        'not_signed_in',
        'Not signed in: run pm-mcp login --server <URL> --email <EMAIL> (or sign in in the app)',
      );
    }
    return s;
  }

  async function listKeyInfos(): Promise<KeyInfo[]> {
    keys = await account.listKeys();
    const s = settings ?? (await loadSettings());
    return keys.map((key) => toKeyInfo(key, s.machineKey?.id ?? null));
  }

  async function listProviderInfos(): Promise<ProviderInfo[]> {
    providers = await account.listProviders();
    return providers.map(toProviderInfo);
  }

  async function changeClient(
    action: 'configure' | 'unconfigure',
    rawClient: ClientId,
    clientOptions: ConfigureClientOptions,
  ): Promise<ClientChange> {
    const client = parseInput(clientIdSchema, rawClient, 'client');
    const projectDir = clientOptions.projectDir;
    const s = await loadSettings();
    const environment = {
      environment: clientEnvironment,
      ...(projectDir !== undefined ? { projectDir } : {}),
    };
    const mode = clientOptions.direct === true ? 'direct' : 'proxy';
    const result =
      action === 'configure'
        ? await configureClient(client, await targetFor(mode, s), environment)
        : await unconfigureClient(client, environment);
    await recordClient(client, projectDir ?? null, action === 'configure' ? mode : null);
    void emit().catch(() => undefined);
    return {
      ...toClientStatus(result),
      notes: result.notes,
      changed: result.changed,
      backupPath: result.backupPath,
      exposedKeyPrefixes: result.exposedKeyPrefixes,
      ...(result.copyText !== undefined ? { copyText: result.copyText } : {}),
    };
  }

  const core: DesktopCore = {
    configDir,

    async start(startOptions = {}) {
      stopped = false;
      wantProxy = startOptions.proxy !== false;
      await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
      const s = await loadSettings();
      applied = appliedFrom(s);
      await noteKeychain(() => loadMcpKey(s));
      if (isSignedIn(s)) await maintain().catch(() => undefined);
      await syncProxy(settings ?? s);
      watchSettingsFile();
      if (maintenanceTimer) clearInterval(maintenanceTimer);
      if (maintenanceIntervalMs > 0) {
        maintenanceTimer = setInterval(() => {
          void maintain()
            .then(() => refreshState())
            .then((state) => emit(state))
            .catch(() => undefined);
        }, maintenanceIntervalMs);
        maintenanceTimer.unref();
      }
      return emit(await refreshState());
    },

    async stop() {
      stopped = true;
      if (maintenanceTimer) clearInterval(maintenanceTimer);
      if (reloadTimer) clearTimeout(reloadTimer);
      maintenanceTimer = undefined;
      watcher?.close();
      watcher = undefined;
      wantProxy = false;
      await stopProxyNow();
    },

    onStateChanged(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    getState: () => refreshState(),
    currentState: () => computeState(),

    async signIn(input: SignInInput) {
      const valid = parseInput(signInInputSchema, input, 'sign-in details');
      const result = await account.signIn(valid);
      settings = result.settings;
      noteOwnSettings(result.settings);
      mcpKey = result.mcpKey;
      keyRejected = false;
      signedOutNote = null;
      keychainProblem = null;
      await syncProxy(result.settings);
      return emit(await refreshState());
    },

    async signOut() {
      return (await core.signOutWithResult()).state;
    },

    async signOutWithResult() {
      const result = await account.signOut();
      mcpKey = undefined;
      keyRejected = false;
      keys = [];
      providers = [];
      signedOutNote = result.warning;
      await loadSettings();
      await stopProxyNow();
      const state = await emit();
      return { state, result };
    },

    listKeys: () => listKeyInfos(),

    async revokeKey(id) {
      const keyId = parseInput(idSchema, id, 'key id');
      await account.revokeKey(keyId);
      const s = await loadSettings();
      if (s.machineKey?.id === keyId) keyRejected = true;
      const list = await listKeyInfos();
      void emit().catch(() => undefined);
      return list;
    },

    async rotateKey(): Promise<RotatedKey> {
      const rotated = await account.rotateMachineKey();
      mcpKey = rotated.mcpKey; // the proxy's next request uses it
      keyRejected = false;
      noteOwnSettings(await loadSettings());
      const key: KeyInfo = {
        id: rotated.key.id,
        name: rotated.key.name,
        keyPrefix: rotated.key.prefix,
        scope: rotated.key.scope,
        isActive: true,
        createdAt: rotated.key.createdAt,
        lastUsedAt: null,
        expiresAt: rotated.key.expiresAt,
        revokedAt: null,
        isThisMachine: true,
      };
      void emit().catch(() => undefined);
      return { key, apiKey: rotated.mcpKey };
    },

    async replaceRejectedKey() {
      const replaced = await account.replaceMachineKey();
      mcpKey = replaced.mcpKey;
      keyRejected = false;
      noteOwnSettings(await loadSettings());
      return emit(await refreshState());
    },

    configureClient: (client, clientOptions = {}) =>
      changeClient('configure', client, clientOptions),
    unconfigureClient: (client, clientOptions = {}) =>
      changeClient(
        'unconfigure',
        client,
        clientOptions.projectDir !== undefined ? { projectDir: clientOptions.projectDir } : {},
      ),

    listProviders: () => listProviderInfos(),

    async addProvider(input: AddProviderInput) {
      const valid = parseInput(addProviderSchema, input, 'provider');
      const created = await account.addProvider(valid);
      await listProviderInfos().catch(() => undefined);
      void emit().catch(() => undefined);
      return toProviderInfo(created);
    },

    async testProvider(id): Promise<ProviderTestResult> {
      const result = await account.testProvider(parseInput(idSchema, id, 'provider id'));
      await listProviderInfos().catch(() => undefined);
      void emit().catch(() => undefined);
      return {
        ok: result.ok,
        message: result.message,
        ...(typeof result.account === 'string' ? { account: result.account } : {}),
      };
    },

    async removeProvider(id) {
      await account.removeProvider(parseInput(idSchema, id, 'provider id'));
      const list = await listProviderInfos();
      void emit().catch(() => undefined);
      return list;
    },

    async getSettings(): Promise<Settings> {
      const s = await loadSettings();
      return { serverUrl: s.serverUrl, proxyPort: s.proxyPort, startAtLogin: s.startAtLogin };
    },

    async updateSettings(patch) {
      const valid = parseInput(settingsPatchSchema, patch, 'settings');
      const before = await loadSettings();
      if (
        valid.serverUrl !== undefined &&
        valid.serverUrl !== before.serverUrl &&
        isSignedIn(before)
      ) {
        throw new DesktopError('usage', 'Sign out before changing the server');
      }
      settings = await settingsStore.update((current) => ({
        ...current,
        ...(valid.serverUrl !== undefined ? { serverUrl: valid.serverUrl } : {}),
        ...(valid.proxyPort !== undefined ? { proxyPort: valid.proxyPort } : {}),
        ...(valid.startAtLogin !== undefined ? { startAtLogin: valid.startAtLogin } : {}),
      }));
      if (valid.proxyPort !== undefined && valid.proxyPort !== before.proxyPort) {
        // The clients point at the old port: rewrite those written in proxy mode.
        for (const record of settings.configuredClients.filter((c) => c.mode === 'proxy')) {
          await changeClient(
            'configure',
            record.client,
            record.project !== null ? { projectDir: record.project } : {},
          ).catch(() => undefined);
        }
        await syncProxy(settings);
      }
      void emit().catch(() => undefined);
      return core.getSettings();
    },

    async startProxy() {
      const s = await requireSignedInSettings();
      wantProxy = true;
      await noteKeychain(() => loadMcpKey(s));
      if (keychainProblem !== null) throw new DesktopError('keychain_unavailable', keychainProblem);
      if (mcpKey === undefined) {
        throw new DesktopError(
          'key_rejected',
          "This machine's MCP key is missing from the keychain: sign in again (pm-mcp login)",
        );
      }
      await startProxyFor(s, s.proxyPort);
      watchSettingsFile();
      return proxy ? proxy.status() : proxyStatus(s);
    },

    async stopProxy() {
      wantProxy = false;
      await stopProxyNow();
    },

    async proxyEndpoint() {
      const s = await loadSettings();
      return { url: proxyMcpUrl(s.proxyPort), localToken: await ensureLocalToken() };
    },

    async directEndpoint() {
      const s = await requireSignedInSettings();
      const apiKey = await secrets.get(secretNames.mcpKey(s.serverUrl));
      if (apiKey === undefined) {
        throw new DesktopError(
          'key_rejected',
          "This machine's MCP key is missing from the keychain: sign in again (pm-mcp login)",
        );
      }
      return { url: serverMcpUrl(s.serverUrl), apiKey };
    },

    async rotateLocalToken() {
      const created = makeLocalToken();
      await secrets.set(secretNames.localProxyToken, created);
      localToken = created; // this process's proxy checks the new one from now on
      // Other processes (a proxy run by the tray app or `pm-mcp proxy`) re-read it.
      const s = (settings = await settingsStore.update((current) => ({
        ...current,
        localTokenChangedAt: now().toISOString(),
      })));
      const changes: ClientChange[] = [];
      for (const record of s.configuredClients.filter((c) => c.mode === 'proxy')) {
        changes.push(
          await changeClient(
            'configure',
            record.client,
            record.project !== null ? { projectDir: record.project } : {},
          ),
        );
      }
      return changes;
    },

    async rotateKeyIfDue() {
      const before = mcpKey;
      await maintain();
      if (!stopped) void emit().catch(() => undefined);
      return mcpKey !== before;
    },
  };
  return core;
}
