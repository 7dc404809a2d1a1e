import * as oidc from 'openid-client';
import { DesktopError, isDesktopError } from '../errors.js';
import { startLoopbackListener, type LoopbackRedirect } from './loopback-redirect.js';
import type { ServerSession } from './server-api.js';

/** The first-party native client the server registers for this (server/oauth/oauth-http.ts). */
export const desktopClientId = 'pm-mcp-desktop';

/** How long the browser has to come back (signing in at an identity provider takes a while). */
export const defaultBrowserSignInTimeoutMs = 5 * 60_000;

export interface BrowserSignInOptions {
  /** The normalised server URL (server-url.ts); it must be the server's public URL. */
  serverUrl: string;
  /** Shows the system browser at the authorization URL (shell.openExternal; the CLI's opener). */
  openUrl: (url: string) => Promise<void>;
  /** `POST /api/auth/browser-session` with the single-use token (server-api.ts). */
  exchange: (sessionToken: string) => Promise<ServerSession>;
  timeoutMs?: number | undefined;
  /** Aborted when the person gives up (the window's Cancel, a second sign-in). */
  signal?: AbortSignal | undefined;
}

const passwordStillWorks =
  'Password sign-in still works: pm-mcp login --server <URL> --email <EMAIL> (or the form below it in the app)';

/**
 * Browser sign-in for a native app (RFC 8252, SPEC §3.10) with `openid-client` doing the OAuth:
 * the server's authorization metadata is discovered, a listener waits on 127.0.0.1 at an
 * ephemeral port, the system browser opens the server's sign-in page (password or SSO, whatever
 * the server offers) with PKCE S256 and `state`, the code coming back is exchanged (the library
 * checks `state`, `iss` and the error response) for a two-minute token bound to
 * `<issuer>/api/auth/browser-session`, and that token is exchanged once for a session. The
 * listener is closed whatever happens.
 */
export async function signInThroughBrowser(options: BrowserSignInOptions): Promise<ServerSession> {
  const configuration = await discover(options.serverUrl);
  const issuer = configuration.serverMetadata().issuer;
  const resource = `${issuer}/api/auth/browser-session`;
  const listener = await startLoopbackListener();
  try {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: listener.redirectUri,
      scope: 'pm:session',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      resource,
    });
    // Only a web page may be handed to the system's URL opener, never another scheme.
    if (authorizationUrl.protocol !== new URL(options.serverUrl).protocol) {
      throw new DesktopError(
        'server_error',
        `${options.serverUrl} names an authorization page that is not on the web (${authorizationUrl.protocol})`,
      );
    }
    await options.openUrl(authorizationUrl.href).catch((error: unknown) => {
      if (isDesktopError(error)) throw error;
      throw new DesktopError(
        'browser_sign_in_failed',
        'The system browser could not be opened; sign in with your password instead',
        { cause: error },
      );
    });
    const redirect = await listener.next({
      timeoutMs: options.timeoutMs ?? defaultBrowserSignInTimeoutMs,
      signal: options.signal,
    });
    return await finish(redirect, async () => {
      const tokens = await oidc.authorizationCodeGrant(
        configuration,
        redirect.url,
        { pkceCodeVerifier: verifier, expectedState: state },
        { resource },
      );
      return options.exchange(tokens.access_token);
    });
  } finally {
    await listener.close();
  }
}

/** Runs the exchange and tells the browser tab how it went, in the words the caller gets. */
async function finish(
  redirect: LoopbackRedirect,
  exchange: () => Promise<ServerSession>,
): Promise<ServerSession> {
  try {
    const session = await exchange();
    await redirect.respond({
      ok: true,
      message: `Signed in as ${session.user.email}. You can close this tab and return to PM MCP.`,
    });
    return session;
  } catch (caught) {
    const error = describeFailure(caught);
    await redirect.respond({ ok: false, message: `${error.message}.` });
    throw error;
  }
}

/** The server's RFC 8414 metadata; its issuer must be the URL the person typed. */
async function discover(serverUrl: string): Promise<oidc.Configuration> {
  try {
    return await oidc.discovery(new URL(serverUrl), desktopClientId, undefined, oidc.None(), {
      algorithm: 'oauth2',
      timeout: 15,
      // normalizeServerUrl allowed plain http (loopback, or confirmed with --insecure).
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- http only where the person allowed it
      ...(serverUrl.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  } catch (error) {
    if (!(error instanceof oidc.ClientError)) {
      throw new DesktopError(
        'server_unreachable',
        `Cannot reach the PM MCP server at ${serverUrl} (${networkReason(error)})`,
      );
    }
    if (error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && statusOf(error.cause) === 404) {
      throw new DesktopError(
        'unsupported',
        `${serverUrl} does not offer browser sign-in: its operator must set PM_MCP_PUBLIC_URL ` +
          `(and leave PM_MCP_OAUTH on). ${passwordStillWorks}`,
      );
    }
    // Another name for the server: its Host guard answers 421, or its metadata names another issuer.
    const misdirected =
      error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && statusOf(error.cause) === 421;
    if (misdirected || error.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
      throw new DesktopError(
        'usage',
        `${serverUrl} is known to itself by another address (its PM_MCP_PUBLIC_URL): sign in with ` +
          'that address as the server URL',
      );
    }
    throw new DesktopError(
      'server_error',
      `${serverUrl} did not describe its sign-in (OAuth metadata): is it a PM MCP server?`,
    );
  }
}

/** What went wrong after the browser came back, for the person (never a code or a token). */
function describeFailure(error: unknown): DesktopError {
  if (isDesktopError(error)) return error;
  if (error instanceof oidc.AuthorizationResponseError) {
    return new DesktopError(
      'browser_sign_in_failed',
      error.error === 'access_denied'
        ? 'Sign-in was cancelled in the browser'
        : `The server refused the sign-in: ${error.error_description ?? error.error}`,
    );
  }
  if (error instanceof oidc.ResponseBodyError) {
    return new DesktopError(
      'browser_sign_in_failed',
      `The server refused the sign-in code (${error.error}); try again`,
    );
  }
  if (error instanceof oidc.ClientError) {
    // The library's own words are on the cause (`unexpected "state" response parameter value`).
    const detail = error.cause instanceof Error ? error.cause.message : error.message;
    return new DesktopError(
      'browser_sign_in_failed',
      detail.includes('"state"')
        ? 'The browser came back with an answer that does not belong to this sign-in (state ' +
            'mismatch); nothing was signed in. Try again'
        : `The browser's answer could not be checked (${detail}); try again`,
    );
  }
  return new DesktopError(
    'server_unreachable',
    `The sign-in could not finish (${networkReason(error)})`,
  );
}

function statusOf(value: unknown): number | undefined {
  return value instanceof Response ? value.status : undefined;
}

function networkReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused: is the server running?';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host name';
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  return typeof code === 'string' ? code : 'network error';
}
