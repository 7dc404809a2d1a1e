import path from 'node:path';
import type { AddProviderInput, SignInInput } from '../../preload/contract.js';
import { DesktopError, isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { MachineKey, SettingsFile, SettingsStore } from '../state/settings.js';
import { keyRotationDue } from './key-rotation.js';
import { withFileLock } from './refresh-lock.js';
import {
  createServerApi,
  type CreatedServerKey,
  type ServerApi,
  type ServerAuth,
  type ServerKey,
  type ServerProvider,
  type ServerProviderTest,
} from './server-api.js';
import { normalizeServerUrl } from './server-url.js';

export interface AccountServiceOptions {
  settings: SettingsStore;
  secrets: SecretStore;
  /** This machine's name: the name of the key minted for it. */
  hostname: string;
  now: () => Date;
  createApi?: (baseUrl: string) => ServerApi;
}

export interface SignInResult {
  settings: SettingsFile;
  /** This machine's MCP key (kept in the keychain; handed back so the proxy can hold it). */
  mcpKey: string;
  keyMinted: boolean;
}

export interface SignOutResult {
  /** Whether the server confirmed this machine's key is revoked. */
  keyRevokedOnServer: boolean;
  /** Set when something could not be done (e.g. the server was down), in words for the user. */
  warning: string | null;
}

export interface RotatedMachineKey {
  key: MachineKey;
  mcpKey: string;
}

export interface SignedInContext {
  settings: SettingsFile & { serverUrl: string; account: NonNullable<SettingsFile['account']> };
  api: ServerApi;
}

export interface AccountService {
  signIn(input: SignInInput): Promise<SignInResult>;
  signOut(): Promise<SignOutResult>;
  /** The signed-in settings, or `not_signed_in`. */
  requireSignedIn(): Promise<SignedInContext>;
  /** This machine's key from the keychain (`undefined` when not signed in or missing). */
  readMachineKey(): Promise<string | undefined>;
  /** Asks the server whether this machine's key still works. */
  checkMachineKey(): Promise<'ok' | 'rejected' | 'missing'>;
  listKeys(): Promise<ServerKey[]>;
  revokeKey(id: string): Promise<void>;
  rotateMachineKey(): Promise<RotatedMachineKey>;
  /** Mints a new key for this machine (the old one was revoked or expired) and drops the old. */
  replaceMachineKey(): Promise<RotatedMachineKey>;
  /** Rotates this machine's key when it is close to expiry; `undefined` when not due. */
  rotateMachineKeyIfDue(): Promise<RotatedMachineKey | undefined>;
  listProviders(): Promise<ServerProvider[]>;
  addProvider(input: AddProviderInput): Promise<ServerProvider>;
  testProvider(id: string): Promise<ServerProviderTest>;
  removeProvider(id: string): Promise<void>;
  /** Whether the signed-in server answers `/health`. */
  serverReachable(): Promise<boolean>;
}

interface CachedSession {
  serverUrl: string;
  accessToken: string;
  /** ms since epoch, with a margin already taken off. */
  usableUntil: number;
}

const notSignedIn = (): DesktopError =>
  new DesktopError(
    'not_signed_in',
    'Not signed in: run pm-mcp login --server <URL> --email <EMAIL> (or sign in in the app)',
  );

/**
 * Sign-in, the session (short-lived access token in memory, rotating refresh token in the
 * keychain) and this machine's MCP key, against the server's HTTP API.
 */
export function createAccountService(options: AccountServiceOptions): AccountService {
  const { settings, secrets, hostname, now } = options;
  const makeApi = options.createApi ?? ((baseUrl: string) => createServerApi({ baseUrl }));
  const apis = new Map<string, ServerApi>();
  const apiFor = (serverUrl: string): ServerApi => {
    let api = apis.get(serverUrl);
    if (!api) {
      api = makeApi(serverUrl);
      apis.set(serverUrl, api);
    }
    return api;
  };
  const lockFile = path.join(settings.configDir, 'session-refresh.lock');
  let session: CachedSession | undefined;
  let refreshing: Promise<string> | undefined;

  const cacheSession = (serverUrl: string, accessToken: string, expiresIn: number): void => {
    const marginMs = Math.min(60_000, (expiresIn * 1000) / 4);
    session = {
      serverUrl,
      accessToken,
      usableUntil: now().getTime() + expiresIn * 1000 - marginMs,
    };
  };

  async function requireSignedIn(): Promise<SignedInContext> {
    const current = await settings.load();
    if (current.serverUrl === null || current.account === null) throw notSignedIn();
    const signedIn = { ...current, serverUrl: current.serverUrl, account: current.account };
    return { settings: signedIn, api: apiFor(current.serverUrl) };
  }

  /** A usable access token, refreshing (under the cross-process lock) when needed. */
  async function accessToken(ctx: SignedInContext): Promise<string> {
    const serverUrl = ctx.settings.serverUrl;
    if (session?.serverUrl === serverUrl && session.usableUntil > now().getTime()) {
      return session.accessToken;
    }
    refreshing ??= withFileLock(lockFile, async () => {
      const refreshToken = await secrets.get(secretNames.refreshToken(serverUrl));
      if (refreshToken === undefined) throw notSignedIn();
      const renewed = await ctx.api.refresh(refreshToken);
      await secrets.set(secretNames.refreshToken(serverUrl), renewed.refresh_token);
      cacheSession(serverUrl, renewed.access_token, renewed.expires_in);
      return renewed.access_token;
    }).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  /** Runs a session call, refreshing once when the cached access token was refused. */
  async function withSession<T>(
    ctx: SignedInContext,
    call: (auth: ServerAuth) => Promise<T>,
  ): Promise<T> {
    const token = await accessToken(ctx);
    try {
      return await call({ kind: 'session', accessToken: token });
    } catch (error) {
      if (!(isDesktopError(error) && error.code === 'not_signed_in')) throw error;
      session = undefined;
      return call({ kind: 'session', accessToken: await accessToken(ctx) });
    }
  }

  /** Reads with this machine's key, falling back to the session when the key is missing/refused. */
  async function withKeyOrSession<T>(
    ctx: SignedInContext,
    call: (auth: ServerAuth) => Promise<T>,
  ): Promise<T> {
    const apiKey = await secrets.get(secretNames.mcpKey(ctx.settings.serverUrl));
    if (apiKey !== undefined) {
      try {
        return await call({ kind: 'key', apiKey });
      } catch (error) {
        if (!(isDesktopError(error) && error.code === 'key_rejected')) throw error;
      }
    }
    return withSession(ctx, call);
  }

  const toMachineKey = (key: CreatedServerKey): MachineKey => ({
    id: key.id,
    name: key.name,
    prefix: key.key_prefix,
    scope: key.scope,
    createdAt: key.created_at,
    expiresAt: key.expires_at,
  });

  /** Keychain first, then the settings file: watchers of the file then find the new key. */
  async function storeMachineKey(
    serverUrl: string,
    created: CreatedServerKey,
  ): Promise<MachineKey> {
    await secrets.set(secretNames.mcpKey(serverUrl), created.api_key);
    const machineKey = toMachineKey(created);
    await settings.update((current) => ({ ...current, machineKey }));
    return machineKey;
  }

  async function bestEffort(run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run();
      return true;
    } catch {
      return false;
    }
  }

  async function signIn(input: SignInInput): Promise<SignInResult> {
    const serverUrl = normalizeServerUrl(input.serverUrl, {
      allowInsecure: input.allowInsecure === true,
    });
    // Prove the keychain takes writes before anything is created on the server.
    await secrets.set(secretNames.probe, 'probe');
    await secrets.delete(secretNames.probe);

    const api = apiFor(serverUrl);
    const credentials = { email: input.email.trim(), password: input.password };
    const signedIn = input.createAccount
      ? await api.register({
          ...credentials,
          ...(input.name !== undefined && input.name !== '' ? { name: input.name } : {}),
        })
      : await api.login(credentials);
    const user = signedIn.user;
    const auth: ServerAuth = { kind: 'session', accessToken: signedIn.access_token };

    const previous = await settings.load();
    const sameAccount = previous.serverUrl === serverUrl && previous.account?.userId === user.id;
    if (previous.account !== null && !sameAccount) {
      // Another account or server was signed in on this machine: end that first.
      await signOut().catch(() => undefined);
    }

    try {
      await secrets.set(secretNames.refreshToken(serverUrl), signedIn.refresh_token);
      cacheSession(serverUrl, signedIn.access_token, signedIn.expires_in);

      // Keep this machine's key when it is still good; otherwise mint one named after the machine.
      let mcpKey: string | undefined;
      let machineKey: MachineKey | null = null;
      const storedKey = await secrets.get(secretNames.mcpKey(serverUrl));
      const known = sameAccount ? previous.machineKey : null;
      if (known !== null) {
        const onServer = (await api.listKeys(auth)).find((key) => key.id === known.id);
        const usable =
          onServer !== undefined &&
          onServer.is_active &&
          (onServer.expires_at === null || Date.parse(onServer.expires_at) > now().getTime());
        if (usable && storedKey !== undefined) {
          mcpKey = storedKey;
          machineKey = { ...known, expiresAt: onServer.expires_at };
        } else if (onServer?.is_active) {
          // Its plaintext is lost from this machine: it would only linger as a usable credential.
          await bestEffort(() => api.revokeKey(auth, known.id));
        }
      }
      let keyMinted = false;
      if (mcpKey === undefined || machineKey === null) {
        const created = await api.createKey(auth, { name: hostname });
        try {
          await secrets.set(secretNames.mcpKey(serverUrl), created.api_key);
        } catch (error) {
          await bestEffort(() => api.revokeKey(auth, created.id));
          throw error;
        }
        mcpKey = created.api_key;
        machineKey = toMachineKey(created);
        keyMinted = true;
      }
      const saved = await settings.update((current) => ({
        ...current,
        serverUrl,
        allowInsecure: input.allowInsecure === true && serverUrl.startsWith('http:'),
        account: { userId: user.id, email: user.email, name: user.name ?? null },
        machineKey,
      }));
      return { settings: saved, mcpKey, keyMinted };
    } catch (error) {
      // Leave nothing half-done behind: no refresh token without a signed-in state.
      await bestEffort(() => api.logout(signedIn.refresh_token));
      await bestEffort(() => secrets.delete(secretNames.refreshToken(serverUrl)));
      session = undefined;
      throw error;
    }
  }

  async function signOut(): Promise<SignOutResult> {
    const current = await settings.load();
    const serverUrl = current.serverUrl;
    if (serverUrl === null || current.account === null) {
      return { keyRevokedOnServer: false, warning: null };
    }
    const api = apiFor(serverUrl);
    const apiKey = await secrets.get(secretNames.mcpKey(serverUrl));
    const refreshToken = await secrets.get(secretNames.refreshToken(serverUrl));
    const keyId = current.machineKey?.id;
    let keyRevokedOnServer = keyId === undefined;
    let unreachable = false;
    if (keyId !== undefined) {
      const attempts: (() => Promise<void>)[] = [];
      // A key may revoke itself; the session is the fallback when the key is gone from here.
      if (apiKey !== undefined) attempts.push(() => api.revokeKey({ kind: 'key', apiKey }, keyId));
      if (refreshToken !== undefined) {
        attempts.push(async () => {
          const ctx = await requireSignedIn();
          await withSession(ctx, (auth) => api.revokeKey(auth, keyId));
        });
      }
      for (const attempt of attempts) {
        try {
          await attempt();
          keyRevokedOnServer = true;
          break;
        } catch (error) {
          if (isDesktopError(error) && error.code === 'server_unreachable') {
            unreachable = true;
            break;
          }
          // A key the server already refuses (revoked or expired) is as good as revoked.
          if (isDesktopError(error) && error.code === 'key_rejected') {
            keyRevokedOnServer = true;
            break;
          }
        }
      }
    }
    if (refreshToken !== undefined) await bestEffort(() => api.logout(refreshToken));
    await secrets.delete(secretNames.mcpKey(serverUrl));
    await secrets.delete(secretNames.refreshToken(serverUrl));
    session = undefined;
    await settings.update((saved) => ({ ...saved, account: null, machineKey: null }));

    let warning: string | null = null;
    if (!keyRevokedOnServer) {
      const which = current.machineKey
        ? ` ${current.machineKey.prefix}… (id ${current.machineKey.id})`
        : '';
      warning = unreachable
        ? `Signed out here, but ${serverUrl} could not be reached, so this machine's key${which} is ` +
          'still active on the server: revoke it from another machine or ask the server admin'
        : `Signed out here, but the server did not confirm that this machine's key${which} was revoked`;
    }
    return { keyRevokedOnServer, warning };
  }

  async function readMachineKey(): Promise<string | undefined> {
    const current = await settings.load();
    if (current.serverUrl === null || current.account === null) return undefined;
    return secrets.get(secretNames.mcpKey(current.serverUrl));
  }

  async function checkMachineKey(): Promise<'ok' | 'rejected' | 'missing'> {
    const ctx = await requireSignedIn();
    const apiKey = await secrets.get(secretNames.mcpKey(ctx.settings.serverUrl));
    if (apiKey === undefined) return 'missing';
    try {
      await ctx.api.me({ kind: 'key', apiKey });
      return 'ok';
    } catch (error) {
      if (isDesktopError(error) && error.code === 'key_rejected') return 'rejected';
      throw error;
    }
  }

  /**
   * With the session the server gives the new key a fresh lifetime; the key rotating itself
   * (no session left) gets a new secret with the same expiry.
   */
  async function rotateMachineKey(
    options: { keyMayRotateItself: boolean } = { keyMayRotateItself: true },
  ): Promise<RotatedMachineKey> {
    const ctx = await requireSignedIn();
    const known = ctx.settings.machineKey;
    if (known === null) {
      throw new DesktopError('not_found', 'This machine has no MCP key to rotate; mint one first');
    }
    const serverUrl = ctx.settings.serverUrl;
    const apiKey = await secrets.get(secretNames.mcpKey(serverUrl));
    let created: CreatedServerKey;
    try {
      created = await withSession(ctx, (auth) => ctx.api.rotateKey(auth, known.id));
    } catch (error) {
      // Without a session the key may still rotate itself (keeping its expiry).
      if (!(
        options.keyMayRotateItself &&
        isDesktopError(error) &&
        error.code === 'not_signed_in' &&
        apiKey !== undefined
      )) {
        throw error;
      }
      created = await ctx.api.rotateKey({ kind: 'key', apiKey }, known.id);
    }
    const key = await storeMachineKey(serverUrl, created);
    return { key, mcpKey: created.api_key };
  }

  async function replaceMachineKey(): Promise<RotatedMachineKey> {
    const ctx = await requireSignedIn();
    const old = ctx.settings.machineKey;
    const created = await withSession(ctx, (auth) => ctx.api.createKey(auth, { name: hostname }));
    const key = await storeMachineKey(ctx.settings.serverUrl, created);
    if (old !== null) {
      await bestEffort(() => withSession(ctx, (auth) => ctx.api.revokeKey(auth, old.id)));
    }
    return { key, mcpKey: created.api_key };
  }

  async function rotateMachineKeyIfDue(): Promise<RotatedMachineKey | undefined> {
    const ctx = await requireSignedIn();
    const known = ctx.settings.machineKey;
    if (known === null || !keyRotationDue(known, now())) return undefined;
    try {
      // Only the session extends a key: a self-rotation would keep the same expiry and be due
      // again at once, so without a session nothing is done (signing in again extends it).
      return await rotateMachineKey({ keyMayRotateItself: false });
    } catch (error) {
      if (isDesktopError(error) && error.code === 'not_signed_in') return undefined;
      // An expired key cannot rotate itself: a fresh one takes its place.
      if (
        isDesktopError(error) &&
        (error.code === 'key_rejected' || error.code === 'request_refused')
      ) {
        return replaceMachineKey();
      }
      throw error;
    }
  }

  return {
    signIn,
    signOut,
    requireSignedIn,
    readMachineKey,
    checkMachineKey,
    async listKeys() {
      const ctx = await requireSignedIn();
      return withKeyOrSession(ctx, (auth) => ctx.api.listKeys(auth));
    },
    async revokeKey(id) {
      const ctx = await requireSignedIn();
      try {
        await withSession(ctx, (auth) => ctx.api.revokeKey(auth, id));
      } catch (error) {
        const apiKey = await secrets.get(secretNames.mcpKey(ctx.settings.serverUrl));
        const own = ctx.settings.machineKey?.id === id;
        if (!(isDesktopError(error) && error.code === 'not_signed_in' && own && apiKey))
          throw error;
        await ctx.api.revokeKey({ kind: 'key', apiKey }, id);
      }
    },
    rotateMachineKey: () => rotateMachineKey(),
    replaceMachineKey,
    rotateMachineKeyIfDue,
    async listProviders() {
      const ctx = await requireSignedIn();
      return withKeyOrSession(ctx, (auth) => ctx.api.listProviders(auth));
    },
    async addProvider(input) {
      const ctx = await requireSignedIn();
      return withSession(ctx, (auth) =>
        ctx.api.addProvider(auth, {
          providerType: input.providerType,
          name: input.name,
          baseUrl: input.baseUrl,
          apiToken: input.apiToken,
          ...(input.email !== undefined && input.email !== '' ? { email: input.email } : {}),
        }),
      );
    },
    async testProvider(id) {
      const ctx = await requireSignedIn();
      return withKeyOrSession(ctx, (auth) => ctx.api.testProvider(auth, id));
    },
    async removeProvider(id) {
      const ctx = await requireSignedIn();
      await withSession(ctx, (auth) => ctx.api.removeProvider(auth, id));
    },
    async serverReachable() {
      const ctx = await requireSignedIn();
      try {
        await ctx.api.health();
        return true;
      } catch (error) {
        if (isDesktopError(error) && error.code === 'server_unreachable') return false;
        // It answered, just not with a healthy status: it is reachable.
        return true;
      }
    },
  };
}
