import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { databaseKinds } from '../support/databases.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface ProviderBody {
  provider: { id: string; last_check_ok: boolean | null; last_check_message: string | null };
  error?: string;
  message?: string;
}

describe.each(databaseKinds)('the providers API on %s', (database) => {
  let server: TestServer;
  let jira: JiraFake;
  let alice: TestAccount;
  let bob: TestAccount;
  const session = (account: TestAccount) => ({ authorization: `Bearer ${account.accessToken}` });
  const jiraUser = () => {
    const user = jira.state.users[0];
    if (!user) throw new Error('the fake has no users');
    return user;
  };

  beforeAll(async () => {
    jira = await startFakeJiraCloud();
    server = await startTestServer({
      database,
      providerHttp: { maxAttempts: 1, timeoutMs: 3_000 },
    });
    alice = await registerAccount(server.url, 'Alice');
    bob = await registerAccount(server.url, 'Bob');
  });
  afterAll(async () => {
    const logs = server.logs.join('');
    for (const user of jira.state.users) expect(logs).not.toContain(user.token);
    expect(jira.recordedText()).not.toMatch(/mcp_/);
    await server.stop();
    await jira.stop();
  });

  const addJira = (account: TestAccount, apiToken: string) =>
    request<ProviderBody>(server.url, 'POST', '/api/users/me/providers', {
      headers: session(account),
      body: {
        provider_type: 'jira',
        name: 'Work Jira',
        base_url: jira.url,
        email: jiraUser().email,
        api_token: apiToken,
      },
    });

  it('checks credentials with the provider before saving, and never returns the token', async () => {
    const created = await addJira(alice, jiraUser().token);
    expect(created.status).toBe(201);
    expect(created.body.provider).toMatchObject({ last_check_ok: true });
    expect(created.body.provider.last_check_message).toMatch(/Alice Example/);
    expect(created.text).not.toContain(jiraUser().token);
    const listed = await request(server.url, 'GET', '/api/users/me/providers', {
      headers: session(alice),
    });
    expect(listed.text).not.toContain(jiraUser().token);
    expect(listed.body.providers).toHaveLength(1);
    const myself = jira.requests.filter((item) => item.path === '/rest/api/3/myself');
    expect(myself.length).toBeGreaterThan(0);
  });

  it("refuses a bad token with the provider's reason and saves nothing", async () => {
    const refused = await addJira(bob, 'not-a-valid-token');
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('provider_rejected');
    expect(String(refused.body.message)).toMatch(/Jira Cloud/i);
    const listed = await request(server.url, 'GET', '/api/users/me/providers', {
      headers: session(bob),
    });
    expect(listed.body.providers).toEqual([]);
  });

  it('refuses a base URL that points at a cloud metadata address', async () => {
    const response = await request(server.url, 'POST', '/api/users/me/providers', {
      headers: session(alice),
      body: {
        provider_type: 'jira_server',
        name: 'x',
        base_url: 'http://169.254.169.254/',
        api_token: 'x',
      },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^base_url:/);
  });

  it('tests a connection with a key, keeps the result, and reports a revoked token', async () => {
    const [connection] = (
      await request<{ providers: { id: string }[] }>(server.url, 'GET', '/api/users/me/providers', {
        headers: session(alice),
      })
    ).body.providers;
    const key = await createKey(server.url, alice);
    const ok = await request(
      server.url,
      'POST',
      `/api/users/me/providers/${connection?.id ?? ''}/test`,
      {
        headers: { 'x-mcp-api-key': key.api_key },
      },
    );
    expect(ok.body).toMatchObject({ ok: true });
    jira.setBehaviour({ deadToken: true });
    try {
      const dead = await request(
        server.url,
        'POST',
        `/api/users/me/providers/${connection?.id ?? ''}/test`,
        {
          headers: session(alice),
        },
      );
      expect(dead.body).toMatchObject({ ok: false });
      const listed = await request<{
        providers: { last_check_ok: boolean; last_check_message: string }[];
      }>(server.url, 'GET', '/api/users/me/providers', { headers: session(alice) });
      expect(listed.body.providers[0]?.last_check_ok).toBe(false);
      expect(listed.body.providers[0]?.last_check_message).toBe(dead.body.message);
    } finally {
      jira.setBehaviour({ deadToken: false });
    }
  });

  it("answers another user's connection id with 404 on every route, as a missing one", async () => {
    const [connection] = (
      await request<{ providers: { id: string }[] }>(server.url, 'GET', '/api/users/me/providers', {
        headers: session(alice),
      })
    ).body.providers;
    const id = connection?.id ?? '';
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [method, suffix, body] of [
      ['PATCH', '', { name: 'mine now' }],
      ['DELETE', '', undefined],
      ['POST', '/test', undefined],
    ] as const) {
      const foreign = await request(server.url, method, `/api/users/me/providers/${id}${suffix}`, {
        headers: session(bob),
        body,
      });
      const absent = await request(
        server.url,
        method,
        `/api/users/me/providers/${missing}${suffix}`,
        { headers: session(bob), body },
      );
      expect(foreign.status).toBe(404);
      expect(foreign.text).toBe(absent.text);
    }
  });

  it('renames, deactivates and deletes a connection', async () => {
    const [connection] = (
      await request<{ providers: { id: string }[] }>(server.url, 'GET', '/api/users/me/providers', {
        headers: session(alice),
      })
    ).body.providers;
    const id = connection?.id ?? '';
    const patched = await request<
      ProviderBody & { provider: { name: string; is_active: boolean } }
    >(server.url, 'PATCH', `/api/users/me/providers/${id}`, {
      headers: session(alice),
      body: { name: 'Renamed', is_active: false },
    });
    expect(patched.body.provider).toMatchObject({ name: 'Renamed', is_active: false });
    expect(
      (
        await request(server.url, 'DELETE', `/api/users/me/providers/${id}`, {
          headers: session(alice),
        })
      ).status,
    ).toBe(204);
    expect(
      (await request(server.url, 'GET', '/api/users/me/providers', { headers: session(alice) }))
        .body.providers,
    ).toEqual([]);
  });
});
