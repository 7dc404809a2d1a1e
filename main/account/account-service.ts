import type {
  AddProviderInput,
  BrowserSignInInput,
  LimitsChange,
  SignInInput,
} from '../../preload/contract.js';
import { isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { SettingsStore } from '../state/settings.js';
import { createMachineKeyService, type RotatedMachineKey } from './machine-key.js';
import type {
  ServerApi,
  ServerAuth,
  ServerGrant,
  ServerKey,
  ServerProvider,
  ServerProviderTest,
} from './server-api.js';
import { createAccountSession, type SignedInContext } from './session.js';
import {
  createSignInService,
  type BrowserSignInDeps,
  type SignInResult,
  type SignOutResult,
} from './sign-in.js';

export type { RotatedMachineKey } from './machine-key.js';
export type { SignedInContext } from './session.js';
export type { SignInResult, SignOutResult } from './sign-in.js';

export interface AccountServiceOptions {
  settings: SettingsStore;
  secrets: SecretStore;
  /** This machine's name: the name of the key minted for it. */
  hostname: string;
  now: () => Date;
  createApi?: (baseUrl: string) => ServerApi;
  /** The system browser, for the browser sign-in. */
  browser?: BrowserSignInDeps | undefined;
}

export interface AccountService {
  signIn(input: SignInInput): Promise<SignInResult>;
  signInWithBrowser(input: BrowserSignInInput): Promise<SignInResult>;
  cancelBrowserSignIn(): void;
  signOut(): Promise<SignOutResult>;
  /** The signed-in settings, or `not_signed_in`. */
  requireSignedIn(): Promise<SignedInContext>;
  /** This machine's key from the keychain (`undefined` when not signed in or missing). */
  readMachineKey(): Promise<string | undefined>;
  /** Asks the server whether this machine's key still works. */
  checkMachineKey(): Promise<'ok' | 'rejected' | 'missing'>;
  listKeys(): Promise<ServerKey[]>;
  revokeKey(id: string): Promise<void>;
  /** A key's limits, with the signed-in session only (a key never changes its own limits). */
  setKeyLimits(id: string, limits: LimitsChange): Promise<ServerKey>;
  /** The editors signed in with OAuth. */
  listGrants(): Promise<ServerGrant[]>;
  /** Ends a grant, with the signed-in session only (as the server requires). */
  revokeGrant(id: string): Promise<void>;
  /** A grant's limits, with the signed-in session only (as a key's). */
  setGrantLimits(id: string, limits: LimitsChange): Promise<ServerGrant>;
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

/**
 * Sign-in, the session (short-lived access token in memory, rotating refresh token in the
 * keychain) and this machine's MCP key, against the server's HTTP API. The parts live in
 * session.ts, sign-in.ts and machine-key.ts; here they are wired, and the plain server reads and
 * writes (keys, providers, health) pick the right credential.
 */
export function createAccountService(options: AccountServiceOptions): AccountService {
  const { settings, secrets, hostname, now } = options;
  const session = createAccountSession({
    settings,
    secrets,
    now,
    ...(options.createApi ? { createApi: options.createApi } : {}),
  });
  const signing = createSignInService({
    settings,
    secrets,
    session,
    hostname,
    now,
    browser: options.browser,
  });
  const machineKey = createMachineKeyService({ settings, secrets, session, hostname, now });
  const requireSignedIn = () => session.requireSignedIn();
  const withSession = <T>(ctx: SignedInContext, call: (auth: ServerAuth) => Promise<T>) =>
    session.withSession(ctx, call);
  const withKeyOrSession = <T>(ctx: SignedInContext, call: (auth: ServerAuth) => Promise<T>) =>
    session.withKeyOrSession(ctx, call);

  return {
    signIn: (input) => signing.signIn(input),
    signInWithBrowser: (input) => signing.signInWithBrowser(input),
    cancelBrowserSignIn: () => signing.cancelBrowserSignIn(),
    signOut: () => signing.signOut(),
    requireSignedIn,
    ...machineKey,
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
    async setKeyLimits(id, limits) {
      const ctx = await requireSignedIn();
      return withSession(ctx, (auth) => ctx.api.setKeyLimits(auth, id, limits));
    },
    async listGrants() {
      const ctx = await requireSignedIn();
      return withKeyOrSession(ctx, (auth) => ctx.api.listGrants(auth));
    },
    async revokeGrant(id) {
      const ctx = await requireSignedIn();
      await withSession(ctx, (auth) => ctx.api.revokeGrant(auth, id));
    },
    async setGrantLimits(id, limits) {
      const ctx = await requireSignedIn();
      return withSession(ctx, (auth) => ctx.api.setGrantLimits(auth, id, limits));
    },
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
