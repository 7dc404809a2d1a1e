import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import { textOf } from '../support/mcp.js';
import {
  authorizeInBrowser,
  launchChromium,
  startCallbackReceiver,
  startOAuthTestServer,
  type CallbackReceiver,
  type GrantedTokens,
} from '../support/oauth.js';
import type { TestServer } from '../support/server.js';

interface ListedGrant {
  id: string;
  client_name: string;
  allowed_tools: string[] | null;
  allowed_projects: string[] | null;
}

describe.each(databaseKinds)("an OAuth grant's limits (%s)", (database) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let callback: CallbackReceiver;
  let account: TestAccount;
  let tokens: GrantedTokens;
  let grant: ListedGrant;

  const asUser = () => ({ Authorization: `Bearer ${account.accessToken}` });
  const setLimits = (body: unknown, headers = asUser()) =>
    request<ListedGrant & { error?: string; message?: string }>(
      server.url,
      'PATCH',
      `/api/users/me/grants/${grant.id}`,
      { body, headers },
    );
  async function toolsSeen(): Promise<{ names: string[]; client: Client }> {
    const client = new Client({ name: 'limited editor', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        requestInit: { headers: { Authorization: `Bearer ${tokens.access_token}` } },
      }),
    );
    return { names: (await client.listTools()).tools.map((tool) => tool.name), client };
  }

  beforeAll(async () => {
    server = await startOAuthTestServer({ database });
    browser = await launchChromium();
    context = await browser.newContext();
    callback = await startCallbackReceiver();
    account = await registerAccount(server.url);
    tokens = await authorizeInBrowser({
      serverUrl: server.url,
      context,
      callback,
      signIn: account,
      scope: 'pm:read pm:write',
      clientName: 'limited editor',
    });
    const listed = await request<{ grants: ListedGrant[] }>(
      server.url,
      'GET',
      '/api/users/me/grants',
      { headers: asUser() },
    );
    const found = listed.body.grants.find(
      (candidate) => candidate.client_name === 'limited editor',
    );
    if (!found) throw new Error('the grant is not listed');
    grant = found;
  }, 120_000);

  afterAll(async () => {
    await context.close();
    await browser.close();
    await callback.close();
    await server.stop();
  });

  it('a new grant has no limits; limited to two tools, its tokens see and call only those, at once', async () => {
    expect(grant).toMatchObject({ allowed_tools: null, allowed_projects: null });
    const before = await toolsSeen();
    expect(before.names).toContain('create_issue');
    await before.client.close();

    const limited = await setLimits({ allowed_tools: ['list_providers', 'get_issue'] });
    expect(limited.status).toBe(200);
    expect(limited.body).toMatchObject({
      id: grant.id,
      allowed_tools: ['list_providers', 'get_issue'],
    });

    // The same access token, its next request: only the allowed tools.
    const after = await toolsSeen();
    expect(after.names.sort()).toEqual(['get_issue', 'list_providers']);
    const refused = await after.client.callTool({ name: 'create_issue', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/policy/i);
    const allowed = await after.client.callTool({ name: 'list_providers', arguments: {} });
    // It ran (the user has no connection yet, which is what it says).
    expect(textOf(allowed)).not.toMatch(/policy/i);
    expect(textOf(allowed)).toMatch(/connection/i);
    await after.client.close();

    const lifted = await setLimits({ allowed_tools: null });
    expect(lifted.body.allowed_tools).toBeNull();
    const again = await toolsSeen();
    expect(again.names).toContain('create_issue');
    await again.client.close();
  });

  it('limits are changed only with the signed-in session, checked like a key’s, and only on one’s own grants', async () => {
    const byToken = await setLimits(
      { allowed_tools: ['list_providers'] },
      { Authorization: `Bearer ${tokens.access_token}` },
    );
    // An OAuth access token is good for /mcp only: the API does not take it at all.
    expect(byToken.status).toBe(401);

    const unknownTool = await setLimits({ allowed_tools: ['drop_database'] });
    expect(unknownTool.status).toBe(400);
    expect(unknownTool.body.message).toContain('drop_database');
    const foreignConnection = await setLimits({ allowed_projects: [`${randomUUID()}:PROJ`] });
    expect(foreignConnection.status).toBe(400);
    expect(foreignConnection.body.message).toMatch(/not one of your connections/);
    const empty = await setLimits({});
    expect(empty.status).toBe(400);

    const other = await registerAccount(server.url);
    const notTheirs = await setLimits(
      { allowed_tools: ['list_providers'] },
      { Authorization: `Bearer ${other.accessToken}` },
    );
    expect(notTheirs.status).toBe(404);
    const unchanged = await request<{ grants: ListedGrant[] }>(
      server.url,
      'GET',
      '/api/users/me/grants',
      { headers: asUser() },
    );
    expect(unchanged.body.grants.find((listed) => listed.id === grant.id)).toMatchObject({
      allowed_tools: null,
    });
  });
});
