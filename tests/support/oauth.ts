import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  OAuthClientMetadata,
  OAuthClientProvider,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from '@modelcontextprotocol/client';
import type { BrowserContext, Page } from 'playwright-core';
import { freePort } from './cluster.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export { chromiumArgs, launchChromium } from './browser.js';

/** The real server with OAuth on: its public URL is its own loopback address (a port chosen first). */
export async function startOAuthTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const port = await freePort();
  return startTestServer({
    ...options,
    env: { PORT: String(port), PM_MCP_PUBLIC_URL: `http://127.0.0.1:${port}`, ...options.env },
  });
}

/** A loopback redirect URI (RFC 8252) that hands each authorization response to the test. */
export interface CallbackReceiver {
  readonly redirectUrl: string;
  /** The next authorization response's query parameters (an error when none comes in time). */
  next(timeoutMs?: number): Promise<URLSearchParams>;
  close(): Promise<void>;
}

export async function startCallbackReceiver(): Promise<CallbackReceiver> {
  const waiting: ((params: URLSearchParams) => void)[] = [];
  const received: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Browsers also ask for /favicon.ico; only the redirect URI carries a response.
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    const resolve = waiting.shift();
    if (resolve) resolve(url.searchParams);
    else received.push(url.searchParams);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const redirectUrl = `http://127.0.0.1:${port}/callback`;
  return {
    redirectUrl,
    next(timeoutMs = 90_000) {
      const ready = received.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const deliver = (params: URLSearchParams) => {
          clearTimeout(timer);
          resolve(params);
        };
        // A waiter left behind by a failed flow would swallow the next flow's response.
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(deliver), 1);
          reject(new Error(`no authorization response reached ${redirectUrl} in ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.push(deliver);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Signs in with a password on the server's login page (open in `page`), as a person would. */
export async function signInOnServerPage(
  page: Page,
  credentials: { email: string; password: string },
): Promise<void> {
  await page.getByLabel('Email').fill(credentials.email);
  await page.getByLabel('Password').fill(credentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in on the server's login page and allows access on its consent page, as a person would. */
export async function approveInBrowser(
  page: Page,
  authorizationUrl: string,
  credentials: { email: string; password: string } | null,
): Promise<void> {
  await page.goto(authorizationUrl);
  if (credentials) await signInOnServerPage(page, credentials);
  await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  // The click only starts the form's submission. Closing the page before the redirect to the
  // client has arrived cancels it (the response never reaches the client): wait for it.
  const authorizationServer = new URL(authorizationUrl).origin;
  await page.waitForURL((url) => url.origin !== authorizationServer, { timeout: 90_000 });
}

/** A PKCE verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface GrantedTokens {
  clientId: string;
  access_token: string;
  refresh_token: string;
  scope: string;
}

/**
 * A plain OAuth client (registered dynamically) authorized for `/mcp` the way a person does it:
 * login (unless the browser context is signed in already) and consent in the browser, then the
 * code exchanged with its PKCE verifier.
 */
export async function authorizeInBrowser(options: {
  serverUrl: string;
  context: BrowserContext;
  callback: CallbackReceiver;
  signIn: { email: string; password: string } | null;
  scope: string;
  clientName: string;
}): Promise<GrantedTokens> {
  const { serverUrl, callback } = options;
  const registered = await fetch(new URL('/oauth/register', serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: options.clientName,
      redirect_uris: [callback.redirectUrl],
      token_endpoint_auth_method: 'none',
    }),
  });
  if (registered.status !== 201) throw new Error(`registration answered ${registered.status}`);
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const { verifier, challenge } = pkcePair();
  const page = await options.context.newPage();
  const received = callback.next();
  try {
    await approveInBrowser(
      page,
      `${serverUrl}/oauth/authorize?${new URLSearchParams({
        client_id: clientId,
        redirect_uri: callback.redirectUrl,
        response_type: 'code',
        scope: options.scope,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource: `${serverUrl}/mcp`,
      }).toString()}`,
      options.signIn,
    );
  } finally {
    await page.close();
  }
  const code = (await received).get('code');
  if (!code) throw new Error('the authorization response carried no code');
  const exchanged = await fetch(new URL('/oauth/token', serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: clientId,
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: callback.redirectUrl,
    }),
  });
  if (exchanged.status !== 200) throw new Error(`the token endpoint answered ${exchanged.status}`);
  return { clientId, ...((await exchanged.json()) as Omit<GrantedTokens, 'clientId'>) };
}

/**
 * The SDK's OAuth client provider interface, implemented the way an editor would: everything in
 * memory, and the "browser" is a callback the test supplies (headless Chromium).
 */
export class TestOAuthClientProvider implements OAuthClientProvider {
  #client: StoredOAuthClientInformation | undefined;
  #tokens: StoredOAuthTokens | undefined;
  #verifier = '';
  readonly savedTokens: StoredOAuthTokens[] = [];
  readonly authorizationUrls: URL[] = [];

  constructor(
    readonly redirectUrl: string,
    private readonly openBrowser: (url: URL) => Promise<void>,
    private readonly scope = 'pm:read pm:write',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'PM MCP test editor',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: this.scope,
    };
  }

  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.#tokens = tokens;
    this.savedTokens.push(tokens);
  }
  /** Replaces the access token (to make the next request fail and the SDK refresh). */
  spoilAccessToken() {
    if (this.#tokens) this.#tokens = { ...this.#tokens, access_token: 'A'.repeat(43) };
  }
  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    await this.openBrowser(url);
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
}
