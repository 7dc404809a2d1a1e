import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultJiraUsers, startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import { databaseKinds } from '../support/databases.js';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 10, item 2: a PATCH that changes a connection's `base_url` must bring the credential
 * again. Otherwise a stolen 15-minute session could point the connection at its own host and
 * receive the long-lived provider token. The new URL is checked with the provider before saving.
 */

interface ProviderView {
  id: string;
  base_url: string;
  last_check_ok: boolean | null;
}
interface Body {
  provider?: ProviderView;
  providers?: ProviderView[];
  error?: string;
  message?: string;
  issues?: { path: string; message: string }[];
}

describe.each(databaseKinds)('changing a connection base_url on %s', (database) => {
  let server: TestServer;
  /** Where the connections live. */
  let home: JiraFake;
  /** Another site (an attacker's, or the organisation's new one), with tokens of its own. */
  let elsewhere: JiraFake;
  let dataCenter: JiraFake;
  let dataCenterElsewhere: JiraFake;
  let alice: TestAccount;
  const session = () => ({ authorization: `Bearer ${alice.accessToken}` });
  const user = (fake: JiraFake) => {
    const first = fake.state.users[0];
    if (!first) throw new Error('the fake has no users');
    return first;
  };

  beforeAll(async () => {
    const otherUsers = defaultJiraUsers.map((item) => ({ ...item, token: `${item.token}-other` }));
    [home, elsewhere, dataCenter, dataCenterElsewhere] = await Promise.all([
      startFakeJiraCloud(),
      startFakeJiraCloud({ users: otherUsers }),
      startFakeJiraDataCenter(),
      startFakeJiraDataCenter({ users: otherUsers }),
    ]);
    server = await startTestServer({
      database,
      env: { PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1' },
      providerHttp: { maxAttempts: 1, timeoutMs: 3_000 },
    });
    alice = await registerAccount(server.url, 'Alice');
  });
  afterAll(async () => {
    await server.stop();
    await Promise.all(
      [home, elsewhere, dataCenter, dataCenterElsewhere].map((fake) => fake.stop()),
    );
  });
  beforeEach(() => {
    for (const fake of [home, elsewhere, dataCenter, dataCenterElsewhere]) fake.requests.splice(0);
  });

  const createCloud = async (): Promise<ProviderView> => {
    const created = await request<Body>(server.url, 'POST', '/api/users/me/providers', {
      headers: session(),
      body: {
        provider_type: 'jira',
        name: 'Work Jira',
        base_url: home.url,
        email: user(home).email,
        api_token: user(home).token,
      },
    });
    expect(created.status).toBe(201);
    if (!created.body.provider) throw new Error('no provider in the answer');
    return created.body.provider;
  };
  const patch = (id: string, body: Record<string, unknown>) =>
    request<Body>(server.url, 'PATCH', `/api/users/me/providers/${id}`, {
      headers: session(),
      body,
    });
  const stored = async (id: string): Promise<ProviderView | undefined> =>
    (
      await request<Body>(server.url, 'GET', '/api/users/me/providers', { headers: session() })
    ).body.providers?.find((item) => item.id === id);
  /** Every credential the fake was sent, in any header. */
  const credentialsSeenBy = (fake: JiraFake): string =>
    fake.requests.map((item) => JSON.stringify(item.headers)).join('\n');

  it('refuses a base_url-only PATCH with 400 naming the fields, and the new host sees nothing', async () => {
    const connection = await createCloud();
    const response = await patch(connection.id, { base_url: elsewhere.url });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    expect(response.body.message).toMatch(/^api_token: /);
    expect(response.body.message).toMatch(/email/);
    expect(response.body.issues?.map((issue) => issue.path)).toEqual(['api_token', 'email']);
    expect(elsewhere.requests).toEqual([]);
    expect(credentialsSeenBy(elsewhere)).not.toContain(user(home).token);
    expect((await stored(connection.id))?.base_url).toBe(home.url);
  });

  it('refuses a new base_url with the token but without the Jira Cloud email', async () => {
    const connection = await createCloud();
    const response = await patch(connection.id, {
      base_url: elsewhere.url,
      api_token: user(elsewhere).token,
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^email: /);
    expect(elsewhere.requests).toEqual([]);
  });

  it('a Jira Data Center connection needs its token again, not an email', async () => {
    const created = await request<Body>(server.url, 'POST', '/api/users/me/providers', {
      headers: session(),
      body: {
        provider_type: 'jira_server',
        name: 'DC',
        base_url: dataCenter.url,
        api_token: user(dataCenter).token,
      },
    });
    const id = created.body.provider?.id ?? '';
    const bare = await patch(id, { base_url: dataCenterElsewhere.url, name: 'moved' });
    expect(bare.status).toBe(400);
    expect(bare.body.message).toMatch(/^api_token: /);
    expect(bare.body.message).not.toMatch(/email/);
    expect(dataCenterElsewhere.requests).toEqual([]);
    const moved = await patch(id, {
      base_url: dataCenterElsewhere.url,
      api_token: user(dataCenterElsewhere).token,
    });
    expect(moved.status).toBe(200);
    expect(moved.body.provider?.base_url).toBe(dataCenterElsewhere.url);
  });

  it('checks a new base_url with the new credential before saving it', async () => {
    const connection = await createCloud();
    const refused = await patch(connection.id, {
      base_url: elsewhere.url,
      email: user(elsewhere).email,
      api_token: 'not-the-right-token',
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('provider_rejected');
    expect((await stored(connection.id))?.base_url).toBe(home.url);

    const moved = await patch(connection.id, {
      base_url: elsewhere.url,
      email: user(elsewhere).email,
      api_token: user(elsewhere).token,
    });
    expect(moved.status).toBe(200);
    expect(moved.body.provider).toMatchObject({ base_url: elsewhere.url, last_check_ok: true });
    expect(elsewhere.requests.some((item) => item.path === '/rest/api/3/myself')).toBe(true);
    expect((await stored(connection.id))?.base_url).toBe(elsewhere.url);
    // The stored token of the old host never travelled.
    expect(credentialsSeenBy(elsewhere)).not.toContain(
      Buffer.from(`${user(home).email}:${user(home).token}`).toString('base64'),
    );
  });

  it('the same base_url spelled differently is not a change and needs no credential', async () => {
    const connection = await createCloud();
    const response = await patch(connection.id, {
      base_url: `${home.url.replace('http://', 'HTTP://')}/`,
      name: 'Same place',
    });
    expect(response.status).toBe(200);
    expect(response.body.provider?.base_url).toBe(home.url);
  });
});
