import type { BrowserSignInInput, SignInInput } from '../../preload/contract.js';
import { DesktopError, isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { MachineKey, SettingsFile, SettingsStore } from '../state/settings.js';
import { signInThroughBrowser } from './browser-sign-in.js';
import { toMachineKey } from './machine-key.js';
import type { ServerAuth, ServerSession } from './server-api.js';
import { normalizeServerUrl } from './server-url.js';
import { bestEffort, type AccountSession } from './session.js';

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

export interface SignInService {
  signIn(input: SignInInput): Promise<SignInResult>;
  /** Signs in through the system browser (browser-sign-in.ts), then as `signIn` does. */
  signInWithBrowser(input: BrowserSignInInput): Promise<SignInResult>;
  /** Gives up the browser sign-in in progress, if any. */
  cancelBrowserSignIn(): void;
  signOut(): Promise<SignOutResult>;
}

/** How the browser sign-in reaches the person: the system browser, and how long to wait. */
export interface BrowserSignInDeps {
  /** Electron's shell.openExternal; the CLI prints the URL and tries the platform's opener. */
  openUrl?: ((url: string) => Promise<void>) | undefined;
  timeoutMs?: number | undefined;
}

const noBrowser = (): Promise<void> =>
  Promise.reject(new DesktopError('unsupported', 'This program cannot open a browser'));

/**
 * Signing in (login, register or the browser; this machine's key kept when still good, else
 * minted) and out (the key revoked with itself or the session, the refresh token logged out,
 * both entries gone).
 */
export function createSignInService(options: {
  settings: SettingsStore;
  secrets: SecretStore;
  session: AccountSession;
  /** This machine's name: the name of the key minted for it. */
  hostname: string;
  now: () => Date;
  browser?: BrowserSignInDeps | undefined;
}): SignInService {
  const { settings, secrets, session, hostname, now } = options;
  let browserSignIn: AbortController | undefined;

  /** The normalised URL, once the keychain has proved it takes writes (before anything exists). */
  async function prepare(input: { serverUrl: string; allowInsecure?: boolean }): Promise<string> {
    const serverUrl = normalizeServerUrl(input.serverUrl, {
      allowInsecure: input.allowInsecure === true,
    });
    await secrets.set(secretNames.probe, 'probe');
    await secrets.delete(secretNames.probe);
    return serverUrl;
  }

  async function signIn(input: SignInInput): Promise<SignInResult> {
    const serverUrl = await prepare(input);
    const api = session.apiFor(serverUrl);
    const credentials = { email: input.email.trim(), password: input.password };
    const signedIn = input.createAccount
      ? await api.register({
          ...credentials,
          ...(input.name !== undefined && input.name !== '' ? { name: input.name } : {}),
        })
      : await api.login(credentials);
    return keepSession(serverUrl, input.allowInsecure === true, signedIn);
  }

  async function signInWithBrowser(input: BrowserSignInInput): Promise<SignInResult> {
    const serverUrl = await prepare(input);
    const api = session.apiFor(serverUrl);
    // One browser sign-in at a time: a new one replaces the one left waiting.
    browserSignIn?.abort();
    const controller = new AbortController();
    browserSignIn = controller;
    try {
      const signedIn = await signInThroughBrowser({
        serverUrl,
        openUrl: options.browser?.openUrl ?? noBrowser,
        exchange: (token) => api.browserSession(token),
        timeoutMs: options.browser?.timeoutMs,
        signal: controller.signal,
      });
      return await keepSession(serverUrl, input.allowInsecure === true, signedIn);
    } finally {
      if (browserSignIn === controller) browserSignIn = undefined;
    }
  }

  /**
   * What every sign-in ends with: the refresh token in the keychain, the access token in memory,
   * this machine's key kept when still good (else minted), the settings saved.
   */
  async function keepSession(
    serverUrl: string,
    allowInsecure: boolean,
    signedIn: ServerSession,
  ): Promise<SignInResult> {
    const api = session.apiFor(serverUrl);
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
      session.remember(serverUrl, signedIn.access_token, signedIn.expires_in);

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
        allowInsecure: allowInsecure && serverUrl.startsWith('http:'),
        account: { userId: user.id, email: user.email, name: user.name ?? null },
        machineKey,
      }));
      return { settings: saved, mcpKey, keyMinted };
    } catch (error) {
      // Leave nothing half-done behind: no refresh token without a signed-in state.
      await bestEffort(() => api.logout(signedIn.refresh_token));
      await bestEffort(() => secrets.delete(secretNames.refreshToken(serverUrl)));
      session.forget();
      throw error;
    }
  }

  async function signOut(): Promise<SignOutResult> {
    const current = await settings.load();
    const serverUrl = current.serverUrl;
    if (serverUrl === null || current.account === null) {
      return { keyRevokedOnServer: false, warning: null };
    }
    const api = session.apiFor(serverUrl);
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
          const ctx = await session.requireSignedIn();
          await session.withSession(ctx, (auth) => api.revokeKey(auth, keyId));
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
    session.forget();
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

  return {
    signIn,
    signInWithBrowser,
    cancelBrowserSignIn: () => browserSignIn?.abort(),
    signOut,
  };
}
