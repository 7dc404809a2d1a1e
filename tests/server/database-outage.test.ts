import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, registerAccount, request, type CreatedKey } from '../support/http.js';
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

/**
 * A PostgreSQL cluster of the test's own (Debian's binaries), so that it can really be stopped and
 * started: a stop terminates every connection with an administrator-command error, which a cut
 * network does not produce. As root, PostgreSQL runs as the `postgres` user, as it must.
 */
async function startPrivateCluster() {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  const version = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (version === undefined)
    throw new Error(
      'PostgreSQL server binaries not found in /usr/lib/postgresql (run npm run setup)',
    );
  const bin = (name: string) => `/usr/lib/postgresql/${version}/bin/${name}`;
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-pg-'));
  const execFileAsync = promisify(execFile);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await execFileAsync('id', ['-u', 'postgres']);
    chownSync(folder, Number(stdout.trim()), -1);
  }
  const run = (command: string, args: string[]) =>
    execFileAsync(
      asRoot ? 'runuser' : command,
      asRoot ? ['-u', 'postgres', '--', command, ...args] : args,
    );
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const data = path.join(folder, 'data');
  await run(bin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const pgCtl = (...args: string[]) => run(bin('pg_ctl'), ['-D', data, '-w', ...args]);
  const start = () =>
    pgCtl(
      '-l',
      path.join(folder, 'log'),
      '-o',
      `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    );
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop: () => pgCtl('-m', 'fast', 'stop'),
    async remove() {
      await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

describe('PostgreSQL stopped and started again', () => {
  let cluster: Awaited<ReturnType<typeof startPrivateCluster>>;
  let server: TestServer;
  let key: CreatedKey;
  const me = () =>
    request(server.url, 'GET', '/api/users/me', { headers: { 'x-mcp-api-key': key.api_key } });

  beforeAll(async () => {
    cluster = await startPrivateCluster();
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
