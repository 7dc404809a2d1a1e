import { randomBytes } from 'node:crypto';
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import { textOf } from '../support/mcp.js';
import {
  approveInBrowser,
  authorizeInBrowser,
  launchChromium,
  pkcePair,
  startCallbackReceiver,
  startOAuthTestServer,
  TestOAuthClientProvider,
  type CallbackReceiver,
} from '../support/oauth.js';
import type { TestServer } from '../support/server.js';

/** The value, or a failure naming what was missing. */
function present<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`missing ${what}`);
  return value;
}

describe.each(databaseKinds)('an MCP client signs in with OAuth (%s)', (database) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let callback: CallbackReceiver;
  let account: TestAccount;
  // The server's clock, moved forward by the expiry test.
  let clockOffsetMs = 0;

  beforeAll(async () => {
    server = await startOAuthTestServer({
      database,
      oauthAccessTokenTtlSeconds: 300,
      now: () => new Date(Date.now() + clockOffsetMs),
    });
    browser = await launchChromium();
    context = await browser.newContext();
    callback = await startCallbackReceiver();
    account = await registerAccount(server.url);
  }, 120_000);

  afterAll(async () => {
    await context.close();
    await browser.close();
    await callback.close();
    await server.stop();
  });

  const mcpUrl = () => new URL('/mcp', server.url);
  const discoveryHeader = () =>
    `Bearer resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp", scope="pm:read pm:write"`;

  /** An editor with the SDK's OAuth support; its "browser" is Chromium signing in as `account`. */
  function editor(options: { signIn: boolean }) {
    let authorizationResponse: Promise<URLSearchParams> | undefined;
    let browserOpen = true;
    const provider = new TestOAuthClientProvider(callback.redirectUrl, async (url) => {
      // After revocation the SDK asks for a new authorization: the person declines.
      if (!browserOpen) throw new Error('the person did not sign in again');
      const page = await context.newPage();
      try {
        const params = callback.next();
        await approveInBrowser(page, url.href, options.signIn ? account : null);
        authorizationResponse = params.then((received) => {
          if (!received.get('code')) throw new Error(`no code: ${received.toString()}`);
          return received;
        });
        await authorizationResponse;
      } finally {
        await page.close();
      }
    });
    const connect = async () => {
      const client = new Client({ name: 'oauth-editor', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
      return client;
    };
    return {
      provider,
      closeBrowser() {
        browserOpen = false;
      },
      /** The first connection: 401 → discovery → registration → browser → code → tokens. */
      async authorize(): Promise<Client> {
        const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
        const first = new Client({ name: 'oauth-editor', version: '1.0.0' });
        await expect(first.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
        if (!authorizationResponse) throw new Error('the SDK never opened the browser');
        // The whole response: the SDK checks its `iss` (RFC 9207) before exchanging the code.
        await transport.finishAuth(await authorizationResponse);
        return connect();
      },
      connect,
    };
  }

  it('a request without any credential is told where to discover OAuth; one with a key is not', async () => {
    const bare = await request(server.url, 'POST', '/mcp', { body: {} });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe(discoveryHeader());

    const badKey = await request(server.url, 'POST', '/mcp', {
      body: {},
      headers: { 'X-MCP-API-Key': `mcp_${randomBytes(40).toString('base64url')}` },
    });
    expect(badKey.status).toBe(401);
    expect(badKey.headers.get('www-authenticate')).toBe('Bearer');
    expect(badKey.body).toEqual({ error: 'invalid_api_key', message: 'Invalid API key' });

    const metadata = await request(server.url, 'GET', '/.well-known/oauth-protected-resource/mcp');
    expect(metadata.body).toMatchObject({
      resource: `${server.url}/mcp`,
      authorization_servers: [server.url],
      scopes_supported: ['pm:read', 'pm:write'],
    });
    const root = await request(server.url, 'GET', '/.well-known/oauth-protected-resource');
    expect(root.body).toEqual(metadata.body);
    const as = await request(server.url, 'GET', '/.well-known/oauth-authorization-server');
    expect(as.body).toMatchObject({
      issuer: server.url,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      registration_endpoint: `${server.url}/oauth/register`,
      client_id_metadata_document_supported: true,
    });
  });

  it('completes authorization in the browser, calls tools, refreshes, and is refused once its grant is revoked', async () => {
    const client = editor({ signIn: true });
    const mcp = await client.authorize();
    const tools = await mcp.listTools();
    expect(tools.tools.map((tool) => tool.name)).toContain('create_issue');
    // The tool ran as the signed-in user, who has no provider connection yet.
    const result = await mcp.callTool({ name: 'list_providers', arguments: {} });
    expect(textOf(result)).toMatch(/connection/i);

    // The grant is listed like a key, with the client's name and scopes.
    const listed = await request<{
      grants: { id: string; client_name: string; scope: string; last_used_at: string | null }[];
    }>(server.url, 'GET', '/api/users/me/grants', {
      headers: { Authorization: `Bearer ${account.accessToken}` },
    });
    expect(listed.status).toBe(200);
    expect(listed.body.grants).toHaveLength(1);
    const grant = present(listed.body.grants[0], 'the grant');
    expect(grant).toMatchObject({ client_name: 'PM MCP test editor', scope: 'pm:read pm:write' });
    expect(grant.last_used_at).not.toBeNull();

    // Refresh: the access token stops working, the SDK refreshes and gets a new refresh token.
    const before = client.provider.tokens();
    client.provider.spoilAccessToken();
    await expect(mcp.callTool({ name: 'list_providers', arguments: {} })).resolves.toBeTruthy();
    const after = client.provider.tokens();
    expect(after?.access_token).not.toBe(before?.access_token);
    expect(after?.refresh_token).toBeTruthy();
    expect(after?.refresh_token).not.toBe(before?.refresh_token);

    client.closeBrowser();
    // Revoked: the access token is refused at once (with the discovery header), so is the refresh token.
    const revoked = await request(server.url, 'DELETE', `/api/users/me/grants/${grant.id}`, {
      headers: { Authorization: `Bearer ${account.accessToken}` },
    });
    expect(revoked.status).toBe(204);
    const refused = await request(server.url, 'POST', '/mcp', {
      body: {},
      headers: { Authorization: `Bearer ${present(after, 'tokens').access_token}` },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(refused.headers.get('www-authenticate')).toContain('resource_metadata=');
    const refresh = await fetch(new URL('/oauth/token', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: present(after?.refresh_token, 'a refresh token'),
        client_id: present(client.provider.clientInformation(), 'client').client_id,
      }),
    });
    expect(refresh.status).toBe(400);
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
    // The SDK's refresh is refused too, so the editor must sign in again.
    await expect(mcp.callTool({ name: 'list_providers', arguments: {} })).rejects.toThrow();
    expect(client.provider.authorizationUrls).toHaveLength(1);
    const after2 = await request<{ grants: unknown[] }>(server.url, 'GET', '/api/users/me/grants', {
      headers: { Authorization: `Bearer ${account.accessToken}` },
    });
    expect(after2.body.grants).toEqual([]);
    await mcp.close();
  }, 180_000);

  it('a client granted pm:read alone does not see the write tools; a used refresh token cannot be replayed', async () => {
    // A plain OAuth client asking for pm:read only (the SDK would ask for what the server lists);
    // the browser is still signed in from the last test: straight to consent.
    const tokens = await authorizeInBrowser({
      serverUrl: server.url,
      context,
      callback,
      signIn: null,
      scope: 'pm:read',
      clientName: 'reader',
    });
    expect(tokens.scope).toBe('pm:read');

    const mcp = new Client({ name: 'reader', version: '1.0.0' });
    await mcp.connect(
      new StreamableHTTPClientTransport(mcpUrl(), {
        requestInit: { headers: { Authorization: `Bearer ${tokens.access_token}` } },
      }),
    );
    const names = (await mcp.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('search_issues');
    expect(names).not.toContain('create_issue');
    await mcp.close();

    const tokenRequest = (params: Record<string, string>) =>
      fetch(new URL('/oauth/token', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: tokens.clientId, ...params }),
      });
    const rotated = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(rotated.status).toBe(200);
    const replay = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
  }, 180_000);

  describe('refusals', () => {
    let clientId: string;

    beforeAll(async () => {
      const registered = await request<{ client_id: string }>(
        server.url,
        'POST',
        '/oauth/register',
        {
          body: {
            client_name: 'raw client',
            redirect_uris: [callback.redirectUrl],
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code', 'refresh_token'],
          },
        },
      );
      expect(registered.status).toBe(201);
      clientId = registered.body.client_id;
    });

    const authorize = (params: Record<string, string>) =>
      fetch(
        `${server.url}/oauth/authorize?${new URLSearchParams({
          client_id: clientId,
          redirect_uri: callback.redirectUrl,
          response_type: 'code',
          scope: 'pm:read',
          state: 'xyz',
          ...params,
        }).toString()}`,
        { redirect: 'manual' },
      );
    const errorOf = (response: Response) =>
      new URL(response.headers.get('location') ?? 'http://x/').searchParams.get('error');

    it('refuses an authorization request without PKCE, or with plain PKCE', async () => {
      const missing = await authorize({});
      expect(missing.status).toBe(303);
      expect(errorOf(missing)).toBe('invalid_request');
      const plain = await authorize({
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'plain',
      });
      expect(plain.status).toBe(303);
      expect(errorOf(plain)).toBe('invalid_request');
    });

    it('refuses a redirect URI that was not registered, without redirecting to it', async () => {
      const { challenge } = pkcePair();
      const response = await authorize({
        redirect_uri: 'http://127.0.0.1:1/elsewhere',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('invalid_redirect_uri');
    });

    it('refuses to mint a token for another resource, and /mcp refuses a token minted for another audience', async () => {
      const { challenge, verifier } = pkcePair();
      const other = await authorize({
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource: 'https://elsewhere.example/mcp',
      });
      expect(errorOf(other)).toBe('invalid_target');

      // The desktop app's token is real, from this server, but bound to the session exchange.
      const page = await context.newPage();
      const received = callback.next();
      await page.goto(
        `${server.url}/oauth/authorize?${new URLSearchParams({
          client_id: 'pm-mcp-desktop',
          redirect_uri: callback.redirectUrl,
          response_type: 'code',
          scope: 'openid',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          resource: `${server.url}/api/auth/browser-session`,
        }).toString()}`,
      );
      const code = (await received).get('code');
      await page.close();
      expect(code).toBeTruthy();
      const token = await fetch(new URL('/oauth/token', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: present(code, 'a code'),
          code_verifier: verifier,
          client_id: 'pm-mcp-desktop',
          redirect_uri: callback.redirectUrl,
          resource: `${server.url}/api/auth/browser-session`,
        }),
      });
      expect(token.status).toBe(200);
      const { access_token: foreign } = (await token.json()) as { access_token: string };
      const refused = await request(server.url, 'POST', '/mcp', {
        body: {},
        headers: { Authorization: `Bearer ${foreign}` },
      });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }, 120_000);

    it('answers malformed token and registration requests with RFC 6749 / 7591 errors, never a 500', async () => {
      const token = (body: string, type = 'application/x-www-form-urlencoded') =>
        fetch(new URL('/oauth/token', server.url), {
          method: 'POST',
          headers: { 'content-type': type },
          body,
        });
      for (const [body, type] of [
        ['', undefined],
        ['grant_type=password&username=a&password=b', undefined],
        [
          `grant_type=authorization_code&client_id=${clientId}&code=nope&code_verifier=x`,
          undefined,
        ],
        ['{"grant_type":', 'application/json'],
      ] as const) {
        const response = await token(body, type);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        const json = (await response.json()) as { error: string };
        expect([
          'invalid_request',
          'unsupported_grant_type',
          'invalid_grant',
          'invalid_client',
        ]).toContain(json.error);
      }

      const register = (body: string, headers: Record<string, string> = {}) =>
        request<{ error: string }>(server.url, 'POST', '/oauth/register', {
          rawBody: body,
          headers,
        });
      const cases: [string, string][] = [
        ['{"redirect_uris": 5', 'invalid_request'],
        ['{"redirect_uris": "http://127.0.0.1/cb"}', 'invalid_redirect_uri'],
        ['{"redirect_uris": ["http://127.0.0.1/cb"], "grant_types": 7}', 'invalid_client_metadata'],
        ['{"redirect_uris": ["http://127.0.0.1/cb#fragment"]}', 'invalid_redirect_uri'],
        ['[]', 'invalid_request'],
        [
          JSON.stringify({
            redirect_uris: [callback.redirectUrl],
            client_name: 'x'.repeat(40_000),
          }),
          'invalid_client_metadata',
        ],
      ];
      for (const [body, error] of cases) {
        const response = await register(body);
        expect(response.status, body.slice(0, 60)).toBe(400);
        expect(response.body.error, body.slice(0, 60)).toBe(error);
      }

      const malformedAuthorize = await fetch(`${server.url}/oauth/authorize`, {
        redirect: 'manual',
      });
      expect(malformedAuthorize.status).toBe(400);
      expect(await malformedAuthorize.text()).toContain('invalid_request');
    });

    it('refuses an expired access token with the discovery header', async () => {
      const client = editor({ signIn: false });
      const mcp = await client.authorize();
      await mcp.close();
      const token = present(client.provider.tokens(), 'tokens').access_token;
      const fresh = await request(server.url, 'POST', '/mcp', {
        body: { jsonrpc: '2.0', id: 1, method: 'ping' },
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json, text/event-stream',
        },
      });
      expect(fresh.status).not.toBe(401);
      clockOffsetMs = 301_000;
      const expired = await request(server.url, 'POST', '/mcp', {
        body: {},
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(expired.headers.get('www-authenticate')).toContain(
        `resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp"`,
      );
    }, 120_000);
  });
});
