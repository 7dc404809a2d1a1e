import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, registerAccount, request, type CreatedKey } from '../support/http.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A TCP relay in front of PostgreSQL that the test can cut and restore, as a network outage. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = async () => {
    if (server?.listening) return;
    server = net.createServer((client) => {
      const upstream = net.connect(target);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    async cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    },
    restore: listen,
  };
}

describe('PostgreSQL going away', () => {
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let server: TestServer;
  let key: CreatedKey;

  beforeAll(async () => {
    relay = await startRelay({ host: '127.0.0.1', port: 5432 });
    server = await startTestServer({
      database: 'postgres',
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${relay.port}/test` },
    });
    key = await createKey(server.url, await registerAccount(server.url));
  });
  afterAll(async () => {
    await relay.restore().catch(() => undefined);
    await server.stop();
  });

  it('answers 503 on /health and on requests while it is gone, and recovers when it is back', async () => {
    expect((await request(server.url, 'GET', '/health')).status).toBe(200);
    await relay.cut();
    const health = await request(server.url, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'error', database: 'error' });
    const call = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': key.api_key },
    });
    expect(call.status).toBe(503);
    expect(call.body.error).toBe('database_unavailable');
    await relay.restore();
    expect((await request(server.url, 'GET', '/health')).status).toBe(200);
    expect(
      (
        await request(server.url, 'GET', '/api/users/me', {
          headers: { 'x-mcp-api-key': key.api_key },
        })
      ).status,
    ).toBe(200);
  });
});

// A cluster of the test's own, so that it can really be stopped and started: a stop terminates
// every connection with an administrator-command error, which a cut network does not produce.
describe('PostgreSQL stopped and started again', () => {
  let cluster: PrivatePostgres;
  let server: TestServer;
  let key: CreatedKey;
  const me = () =>
    request(server.url, 'GET', '/api/users/me', { headers: { 'x-mcp-api-key': key.api_key } });

  beforeAll(async () => {
    cluster = await startPrivatePostgres();
    server = await startTestServer({ database: 'postgres', env: { DATABASE_URL: cluster.url } });
    key = await createKey(server.url, await registerAccount(server.url));
  });
  afterAll(async () => {
    await server.stop().catch(() => undefined);
    await cluster.remove();
  });

  it('keeps running through the stop (idle connections terminated), answers 503, and recovers', async () => {
    // Several requests at once leave several idle connections in the pool for the stop to kill.
    const before = await Promise.all(Array.from({ length: 5 }, me));
    expect(before.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);

    await cluster.stop();
    const health = await request(server.url, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'error', database: 'error' });
    const during = await me();
    expect(during.status).toBe(503);
    expect(during.body.error).toBe('database_unavailable');

    await cluster.start();
    expect((await request(server.url, 'GET', '/health')).status).toBe(200);
    const after = await me();
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before[0]?.body);
  });
});
