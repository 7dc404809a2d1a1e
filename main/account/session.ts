import path from 'node:path';
import { DesktopError, isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { SettingsFile, SettingsStore } from '../state/settings.js';
import { withFileLock } from './refresh-lock.js';
import { createServerApi, type ServerApi, type ServerAuth } from './server-api.js';

export interface SignedInContext {
  settings: SettingsFile & { serverUrl: string; account: NonNullable<SettingsFile['account']> };
  api: ServerApi;
}

export const notSignedIn = (): DesktopError =>
  new DesktopError(
    'not_signed_in',
    'Not signed in: run pm-mcp login --server <URL> --email <EMAIL> (or sign in in the app)',
  );

/**
 * The session with the server: one API client per server URL, the short-lived access token in
 * memory, and the rotating refresh token in the keychain, renewed under a lock file shared with
 * other processes (reusing a refresh token revokes its whole family).
 */
export interface AccountSession {
  apiFor(serverUrl: string): ServerApi;
  /** The signed-in settings, or `not_signed_in`. */
  requireSignedIn(): Promise<SignedInContext>;
  /** Keeps an access token the server just gave (sign-in). */
  remember(serverUrl: string, accessToken: string, expiresIn: number): void;
  /** Drops the access token held in memory. */
  forget(): void;
  /** Runs a session call, refreshing once when the cached access token was refused. */
  withSession<T>(ctx: SignedInContext, call: (auth: ServerAuth) => Promise<T>): Promise<T>;
  /** Reads with this machine's key, falling back to the session when the key is missing/refused. */
  withKeyOrSession<T>(ctx: SignedInContext, call: (auth: ServerAuth) => Promise<T>): Promise<T>;
}

interface CachedSession {
  serverUrl: string;
  accessToken: string;
  /** ms since epoch, with a margin already taken off. */
  usableUntil: number;
}

export function createAccountSession(options: {
  settings: SettingsStore;
  secrets: SecretStore;
  now: () => Date;
  createApi?: (baseUrl: string) => ServerApi;
}): AccountSession {
  const { settings, secrets, now } = options;
  const makeApi = options.createApi ?? ((baseUrl: string) => createServerApi({ baseUrl }));
  const apis = new Map<string, ServerApi>();
  const lockFile = path.join(settings.configDir, 'session-refresh.lock');
  let session: CachedSession | undefined;
  let refreshing: Promise<string> | undefined;

  const apiFor = (serverUrl: string): ServerApi => {
    let api = apis.get(serverUrl);
    if (!api) {
      api = makeApi(serverUrl);
      apis.set(serverUrl, api);
    }
    return api;
  };

  const remember = (serverUrl: string, accessToken: string, expiresIn: number): void => {
    const marginMs = Math.min(60_000, (expiresIn * 1000) / 4);
    session = {
      serverUrl,
      accessToken,
      usableUntil: now().getTime() + expiresIn * 1000 - marginMs,
    };
  };

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
      remember(serverUrl, renewed.access_token, renewed.expires_in);
      return renewed.access_token;
    }).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

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

  return {
    apiFor,
    async requireSignedIn() {
      const current = await settings.load();
      if (current.serverUrl === null || current.account === null) throw notSignedIn();
      const signedIn = { ...current, serverUrl: current.serverUrl, account: current.account };
      return { settings: signedIn, api: apiFor(current.serverUrl) };
    },
    remember,
    forget() {
      session = undefined;
    },
    withSession,
    async withKeyOrSession(ctx, call) {
      const apiKey = await secrets.get(secretNames.mcpKey(ctx.settings.serverUrl));
      if (apiKey !== undefined) {
        try {
          return await call({ kind: 'key', apiKey });
        } catch (error) {
          if (!(isDesktopError(error) && error.code === 'key_rejected')) throw error;
        }
      }
      return withSession(ctx, call);
    },
  };
}

/** Runs a call whose failure must not stop what comes next; says whether it worked. */
export async function bestEffort(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch {
    return false;
  }
}
