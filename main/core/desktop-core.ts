import { promises as fs } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { AppState, ClientId, DesktopApi, ProxyStatus } from '../../preload/contract.js';
import { createAccountService, type SignOutResult } from '../account/account-service.js';
import type { ServerApi } from '../account/server-api.js';
import { proxyMcpUrl, serverMcpUrl, type ClientEnvironment } from '../clients/index.js';
import { DesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import { createLoopbackProxy, generateLocalToken } from '../proxy/proxy.js';
import { createSettingsStore, type SettingsFile } from '../state/settings.js';
import { createAccountResources } from './account-resources.js';
import { defaultBridgeCommand, type BridgeCommand } from './bridge-command.js';
import {
  createClientConfiguration,
  type ClientChange,
  type ConfigureClientOptions,
} from './client-configuration.js';
import { createCursorAutoConfigure } from './cursor-autoconfigure.js';
import {
  createCoreMemory,
  createCoreSettings,
  isSignedIn,
  noteKeychain,
  type SignedInSettings,
} from './core-memory.js';
import { parseInput, settingsPatchSchema } from './input-validation.js';
import { createKeyLifecycle } from './key-lifecycle.js';
import { createLocalTokenKeeper } from './local-token.js';
import type { LoopbackProxyFactory } from './proxy-port.js';
import { createProxySupervisor } from './proxy-supervisor.js';
import { createSettingsFollower } from './settings-follower.js';
import { createStateAssembly } from './state-assembly.js';

export type { ClientChange, ConfigureClientOptions } from './client-configuration.js';

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
  /** Shows the system browser at a URL (browser sign-in): Electron's shell.openExternal, the CLI's opener. */
  openUrl?: (url: string) => Promise<void>;
  /** How long a browser sign-in waits for the browser (default five minutes; tests shorten it). */
  browserSignInTimeoutMs?: number;
  /** How often the key's expiry is checked and the session kept alive (default one hour). */
  maintenanceIntervalMs?: number;
  /** Follow changes another process (the CLI, the tray app) makes to the settings file. Default true. */
  watchSettings?: boolean;
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
  /** `undoAutoConfigure`, returning what it did in words (for the CLI). */
  undoAutoConfigureWithMessage(): Promise<string>;
}

const missingKey = (): DesktopError =>
  new DesktopError(
    'key_rejected',
    "This machine's MCP key is missing from the keychain: sign in again (pm-mcp login)",
  );

/**
 * The desktop app's core: sign-in, the keychain, the loopback proxy, client configuration and
 * the state the tray and window show. The Electron shell, the `pm-mcp` CLI and the tests build
 * one with their own keychain, folders and clock. This function only wires the parts (one file
 * each, see docs/ARCHITECTURE.md) and maps the API onto them.
 */
export function createDesktopCore(options: DesktopCoreOptions): DesktopCore {
  const { configDir, secretStore: secrets, clientEnvironment } = options;
  const now = options.now ?? (() => new Date());
  const maintenanceIntervalMs = options.maintenanceIntervalMs ?? 3_600_000;
  const memory = createCoreMemory();
  const settings = createCoreSettings(createSettingsStore(configDir), memory);
  const account = createAccountService({
    settings: settings.store,
    secrets,
    hostname: options.hostname ?? osHostname(),
    now,
    ...(options.createApi ? { createApi: options.createApi } : {}),
    browser: { openUrl: options.openUrl, timeoutMs: options.browserSignInTimeoutMs },
  });
  // Parts that change what the state shows say so; the state is computed when it is sent.
  const changed = (): void => {
    void state.emit().catch(() => undefined);
  };
  const localToken = createLocalTokenKeeper({
    memory,
    secrets,
    settings,
    generate: options.generateLocalToken ?? generateLocalToken,
    now,
  });
  const proxy = createProxySupervisor({
    createProxy: options.createProxy ?? createLoopbackProxy,
    credentials: { apiKey: () => memory.mcpKey, localToken: () => memory.localToken },
    localToken,
    onUpstreamUnauthorized: () => {
      void keys.onUpstreamUnauthorized();
    },
  });
  const clients = createClientConfiguration({
    memory,
    settings,
    secrets,
    localToken,
    environment: clientEnvironment,
    bridge: defaultBridgeCommand(configDir, clientEnvironment, options.bridgeLauncher),
    changed,
  });
  const autoConfigure = createCursorAutoConfigure({
    settings,
    clients,
    environment: clientEnvironment,
    now,
  });
  const state = createStateAssembly({
    memory,
    settings,
    account,
    clients,
    proxy,
    autoConfigured: () => autoConfigure.pending(),
    now,
  });
  const follower = createSettingsFollower({
    configDir,
    enabled: options.watchSettings !== false,
    memory,
    settings,
    localToken,
    loadMcpKey: (s) => keys.loadMcpKey(s),
    syncProxy: (s) => proxy.sync(s),
    emit: () => state.emit(),
  });
  const keys = createKeyLifecycle({
    memory,
    settings,
    secrets,
    account,
    noteOwnSettings: (s) => follower.noteOwn(s),
    emit: () => state.emit(),
  });
  const resources = createAccountResources({ memory, settings, account, changed });
  let maintenanceTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function requireSignedInSettings(): Promise<SignedInSettings> {
    const s = await settings.load();
    if (!isSignedIn(s)) {
      throw new DesktopError(
        'not_signed_in',
        'Not signed in: run pm-mcp login --server <URL> --email <EMAIL> (or sign in in the app)',
      );
    }
    return s;
  }

  /** The proxy follows the new key; Cursor, installed and not yet pointed at us, just works. */
  async function afterSignIn(signedIn: SettingsFile): Promise<AppState> {
    await proxy.sync(signedIn);
    await autoConfigure.afterSignIn();
    return state.emit(await state.refresh());
  }

  const core: DesktopCore = {
    configDir,

    async start(startOptions = {}) {
      stopped = false;
      proxy.wanted = startOptions.proxy !== false;
      await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
      const s = await settings.load();
      follower.noteOwn(s);
      await noteKeychain(memory, () => keys.loadMcpKey(s));
      if (isSignedIn(s)) await keys.maintain().catch(() => undefined);
      await proxy.sync(memory.settings ?? s);
      follower.watch();
      if (maintenanceTimer) clearInterval(maintenanceTimer);
      if (maintenanceIntervalMs > 0) {
        maintenanceTimer = setInterval(() => {
          void keys
            .maintain()
            .then(() => state.refresh())
            .then((next) => state.emit(next))
            .catch(() => undefined);
        }, maintenanceIntervalMs);
        maintenanceTimer.unref();
      }
      return state.emit(await state.refresh());
    },

    async stop() {
      stopped = true;
      if (maintenanceTimer) clearInterval(maintenanceTimer);
      maintenanceTimer = undefined;
      follower.stop();
      proxy.wanted = false;
      await proxy.stop();
    },

    onStateChanged: (listener) => state.onChanged(listener),
    getState: () => state.refresh(),
    currentState: () => state.current(),

    async signIn(input) {
      return afterSignIn(await keys.signIn(input));
    },

    async signInWithBrowser(input) {
      return afterSignIn(await keys.signInWithBrowser(input));
    },

    cancelBrowserSignIn() {
      account.cancelBrowserSignIn();
      return Promise.resolve();
    },

    async signOut() {
      return (await core.signOutWithResult()).state;
    },

    async signOutWithResult() {
      const result = await keys.signOut();
      await proxy.stop();
      return { state: await state.emit(), result };
    },

    listKeys: () => resources.listKeys(),

    setKeyLimits: (id, limits) => resources.setKeyLimits(id, limits),
    listGrants: () => resources.listGrants(),
    revokeGrant: (id) => resources.revokeGrant(id),
    setGrantLimits: (id, limits) => resources.setGrantLimits(id, limits),

    async revokeKey(id) {
      await keys.revokeKey(id);
      const list = await resources.listKeys();
      changed();
      return list;
    },

    async rotateKey() {
      const rotated = await keys.rotateKey();
      changed();
      return rotated;
    },

    async replaceRejectedKey() {
      await keys.replaceRejectedKey();
      return state.emit(await state.refresh());
    },

    configureClient: (client, clientOptions = {}) =>
      clients.change('configure', client, clientOptions),
    unconfigureClient: (client, clientOptions = {}) =>
      clients.change(
        'unconfigure',
        client,
        clientOptions.projectDir !== undefined ? { projectDir: clientOptions.projectDir } : {},
      ),

    async undoAutoConfigure() {
      await autoConfigure.undo();
      return state.emit(await state.current());
    },
    undoAutoConfigureWithMessage: () => autoConfigure.undo(),
    async keepAutoConfigure() {
      await autoConfigure.keep();
      return state.emit(await state.current());
    },

    listProviders: () => resources.listProviders(),
    addProvider: (input) => resources.addProvider(input),
    testProvider: (id) => resources.testProvider(id),
    removeProvider: (id) => resources.removeProvider(id),

    async getSettings() {
      const s = await settings.load();
      return {
        serverUrl: s.serverUrl,
        proxyPort: s.proxyPort,
        startAtLogin: s.startAtLogin,
        autoConfigureCursor: s.autoConfigureCursor,
      };
    },

    async updateSettings(patch) {
      const valid = parseInput(settingsPatchSchema, patch, 'settings');
      const before = await settings.load();
      if (
        valid.serverUrl !== undefined &&
        valid.serverUrl !== before.serverUrl &&
        isSignedIn(before)
      ) {
        throw new DesktopError('usage', 'Sign out before changing the server');
      }
      const after = await settings.update((current) => ({
        ...current,
        ...(valid.serverUrl !== undefined ? { serverUrl: valid.serverUrl } : {}),
        ...(valid.proxyPort !== undefined ? { proxyPort: valid.proxyPort } : {}),
        ...(valid.startAtLogin !== undefined ? { startAtLogin: valid.startAtLogin } : {}),
        ...(valid.autoConfigureCursor !== undefined
          ? { autoConfigureCursor: valid.autoConfigureCursor }
          : {}),
      }));
      if (valid.proxyPort !== undefined && valid.proxyPort !== before.proxyPort) {
        // The clients point at the old port: rewrite those written in proxy mode.
        await clients.reconfigureProxyClients(after, true);
        await proxy.sync(memory.settings ?? after);
      }
      changed();
      return core.getSettings();
    },

    async startProxy() {
      const s = await requireSignedInSettings();
      proxy.wanted = true;
      await noteKeychain(memory, () => keys.loadMcpKey(s));
      if (memory.keychainProblem !== null) {
        throw new DesktopError('keychain_unavailable', memory.keychainProblem);
      }
      if (memory.mcpKey === undefined) throw missingKey();
      await proxy.startFor(s, s.proxyPort);
      follower.watch();
      return proxy.runningStatus() ?? proxy.status(s);
    },

    async stopProxy() {
      proxy.wanted = false;
      await proxy.stop();
    },

    async proxyEndpoint() {
      const s = await settings.load();
      return { url: proxyMcpUrl(s.proxyPort), localToken: await localToken.ensure() };
    },

    async directEndpoint() {
      const s = await requireSignedInSettings();
      const apiKey = await secrets.get(secretNames.mcpKey(s.serverUrl));
      if (apiKey === undefined) throw missingKey();
      return { url: serverMcpUrl(s.serverUrl), apiKey };
    },

    async rotateLocalToken() {
      await localToken.rotate();
      return clients.reconfigureProxyClients(await settings.cached(), false);
    },

    async rotateKeyIfDue() {
      const before = memory.mcpKey;
      await keys.maintain();
      if (!stopped) changed();
      return memory.mcpKey !== before;
    },
  };
  return core;
}
