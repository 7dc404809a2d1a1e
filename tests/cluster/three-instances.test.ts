import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { startServerProcess, waitFor, type ServerProcess } from '../support/cluster.js';
import { startNginx, type NginxProcess } from '../support/nginx.js';
import { createPostgresSchema, postgresUrl } from '../support/databases.js';
import {
  createKey,
  registerAccount,
  request,
  type CreatedKey,
  type TestAccount,
} from '../support/http.js';
import { allMcpClientKinds, connectMcpClient, type McpClientLike } from '../support/mcp.js';
import { ensureServerBuild } from '../support/server-build.js';
import { assertNoSecretsIn } from '../support/server.js';

/** Reads an SSE response until its `endpoint` event; returns the stream's message path. */
async function openStream(
  url: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<{ endpoint: string; events: string[]; ended: Promise<number> }> {
  const response = await fetch(new URL('/sse', url), {
    headers: { 'x-mcp-api-key': apiKey, accept: 'text/event-stream' },
    signal,
  });
  expect(response.status).toBe(200);
  if (!response.body) throw new Error('no SSE body');
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  const events: string[] = [];
  let buffer = '';
  let resolveEndpoint: (value: string) => void = () => undefined;
  const endpoint = new Promise<string>((resolve) => (resolveEndpoint = resolve));
  const ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          events.push(event);
          const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
          if (event.startsWith('event: endpoint')) resolveEndpoint(data);
        }
      }
    } catch {
      // aborted by the test
    }
    return Date.now();
  })();
  return { endpoint: await endpoint, events, ended };
}

/**
 * Three real server processes (the compiled build) on one PostgreSQL database, behind nginx
 * round robin without stickiness (deploy/nginx/pm-mcp-proxy.conf), as SPEC §3.9 deploys them.
 */
describe('three server instances behind nginx on one PostgreSQL', { timeout: 180_000 }, () => {
  let dropSchema: (() => Promise<void>) | undefined;
  let instances: ServerProcess[] = [];
  let nginx: NginxProcess | undefined;
  let jira: JiraFake | undefined;
  let alice: TestAccount;
  let key: CreatedKey;
  let env: Record<string, string>;

  const instance = (index: number): ServerProcess => {
    const found = instances[index];
    if (!found) throw new Error(`no instance ${index}`);
    return found;
  };
  const balancer = (): NginxProcess => {
    if (!nginx) throw new Error('nginx did not start');
    return nginx;
  };
  const session = (account: TestAccount) => ({ authorization: `Bearer ${account.accessToken}` });

  beforeAll(async () => {
    await ensureServerBuild();
    const schema = await createPostgresSchema();
    dropSchema = () => schema.drop();
    const fake = await startFakeJiraCloud();
    jira = fake;
    env = {
      DATABASE_URL: `${postgresUrl}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`,
      PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
      PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
      LOG_LEVEL: 'info',
    };
    // All three at once on an empty database: the migrations' lock lets one apply them.
    instances = await Promise.all([0, 1, 2].map(() => startServerProcess(env)));
    const proxy = await startNginx(instances.map((server) => server.port));
    nginx = proxy;
    alice = await registerAccount(proxy.url, 'Alice');
    key = await createKey(proxy.url, alice);
    const user = fake.state.users[0];
    if (!user) throw new Error('fake Jira without users');
    const added = await request(proxy.url, 'POST', '/api/users/me/providers', {
      headers: session(alice),
      body: {
        provider_type: 'jira',
        name: 'Team Jira',
        base_url: fake.url,
        email: user.email,
        api_token: user.token,
      },
    });
    expect(added.status).toBe(201);
  }, 300_000);

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(instances.map((server) => server.stop()));
    await jira?.stop();
    for (const server of instances) assertNoSecretsIn(server.output.join(''));
    await dropSchema?.();
  });

  it('started together on an empty database, every instance is ready and migrated once', async () => {
    for (const server of instances) {
      const ready = await request(server.url, 'GET', '/ready');
      expect(ready.body).toMatchObject({ status: 'ready', database: 'ok', migrations: 'ok' });
      expect(ready.body.listener).toBe('ok');
    }
  });

  it.each(allMcpClientKinds)('answers 100 calls of a %s client through nginx', async (kind) => {
    const client = await connectMcpClient(balancer().url, kind, {
      headers: { 'X-MCP-API-Key': key.api_key },
    });
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toContain('list_projects');
      for (let call = 0; call < 100; call += 1) {
        const result = await client.callTool({ name: 'list_projects', arguments: {} });
        expect(result.isError, JSON.stringify(result)).not.toBe(true);
        expect(JSON.stringify(result.structuredContent)).toContain('Team Jira');
      }
    } finally {
      await client.close();
    }
  });

  it('answers on the stream a message posted to another instance', async () => {
    const controller = new AbortController();
    const stream = await openStream(instance(2).url, key.api_key, controller.signal);
    expect(stream.endpoint).toMatch(/^\/messages\?sessionId=[A-Za-z0-9_-]{43}$/);
    for (const [id, target] of [instance(0), instance(1)].entries()) {
      const posted = await request(target.url, 'POST', stream.endpoint, {
        body: {
          jsonrpc: '2.0',
          id: id + 1,
          method: 'initialize',
          params: {
            protocolVersion: '2024-11-05',
            capabilities: {},
            clientInfo: { name: 'cross-instance', version: '1' },
          },
        },
      });
      expect(posted.status).toBe(202);
      await waitFor('the answer on the stream', () =>
        stream.events.some((event) => event.includes(`"id":${id + 1}`)),
      );
    }
    // A large message (over NOTIFY's payload limit) travels through a row.
    const posted = await request(instance(0).url, 'POST', stream.endpoint, {
      body: {
        jsonrpc: '2.0',
        id: 99,
        method: 'ping',
        params: { _meta: { pad: 'x'.repeat(20_000) } },
      },
    });
    expect(posted.status).toBe(202);
    await waitFor('the answer to the large message', () =>
      stream.events.some((event) => event.includes('"id":99')),
    );
    // Unknown on every instance: 404.
    const unknown = await request(instance(1).url, 'POST', '/messages?sessionId=nope', {
      body: { jsonrpc: '2.0', id: 1, method: 'ping' },
    });
    expect(unknown.status).toBe(404);
    controller.abort();
  });

  it('refuses a key revoked through A on B and C, and closes its stream on C within 1 s', async () => {
    const doomed = await createKey(instance(0).url, alice);
    for (const server of instances) {
      // Authenticated once everywhere (and so cached where a cache is in use).
      expect(
        (
          await request(server.url, 'GET', '/api/users/me', {
            headers: { 'x-mcp-api-key': doomed.api_key },
          })
        ).status,
      ).toBe(200);
    }
    const controller = new AbortController();
    const stream = await openStream(instance(2).url, doomed.api_key, controller.signal);
    const revoked = await request(
      instance(0).url,
      'DELETE',
      `/api/users/me/mcp-keys/${doomed.id}`,
      {
        headers: session(alice),
      },
    );
    expect(revoked.status).toBe(204);
    const revokedAt = Date.now();
    const closedAt = await stream.ended;
    expect(closedAt - revokedAt).toBeLessThan(1_000);
    for (const server of [instance(1), instance(2)]) {
      await waitFor(
        'the revocation to reach every instance',
        async () =>
          (
            await request(server.url, 'GET', '/api/users/me', {
              headers: { 'x-mcp-api-key': doomed.api_key },
            })
          ).status === 401,
        1_000,
        10,
      );
    }
    controller.abort();
  });

  it('loses no call when one instance is stopped with SIGTERM under load', async () => {
    const clients: McpClientLike[] = await Promise.all(
      Array.from({ length: 16 }, () =>
        connectMcpClient(balancer().url, 'modern', { headers: { 'X-MCP-API-Key': key.api_key } }),
      ),
    );
    let running = true;
    let succeeded = 0;
    const failures: string[] = [];
    const workers = clients.map(async (client) => {
      while (running) {
        try {
          const result = await client.callTool({ name: 'list_providers', arguments: {} });
          if (result.isError) failures.push(JSON.stringify(result));
          else succeeded += 1;
        } catch (error) {
          failures.push(String(error));
        }
      }
    });
    await waitFor('load to be flowing', () => succeeded >= 50);
    const stopping = instance(1);
    const code = await stopping.stop('SIGTERM');
    const afterStop = succeeded;
    await waitFor('load to continue on the others', () => succeeded >= afterStop + 100);
    running = false;
    await Promise.all(workers);
    await Promise.all(clients.map((client) => client.close()));
    expect(code).toBe(0);
    expect(failures).toEqual([]);
    expect(stopping.output.join('')).toContain('shutting down');
    // Started again (a rolling restart), it serves again.
    instances[1] = await startServerProcess(env, { port: stopping.port });
  });
});
