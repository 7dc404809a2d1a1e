import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createLoopbackProxy,
  generateLocalToken,
  type LoopbackProxy,
} from '../../main/proxy/proxy.js';
import { startServerProcess, type ServerProcess } from '../support/cluster.js';
import { createKey, registerAccount } from '../support/http.js';
import { connectMcpClient, textOf } from '../support/mcp.js';
import { ensureServerBuild } from '../support/server-build.js';

/**
 * The server restarted (SIGTERM, started again on its port) under a live loopback proxy, as an
 * operator's upgrade does: the editors' clients keep their connection to the proxy, get a clear
 * `upstream_unreachable` while the server is down, and their next call after it is back succeeds
 * without reconnecting (the soak's "server restarted under the proxy" fault, in isolation).
 */

let folder: string;
let env: Record<string, string>;
let server: ServerProcess;
let proxy: LoopbackProxy;
let proxyUrl: string;
const localToken = generateLocalToken();

beforeAll(async () => {
  await ensureServerBuild();
  folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-restart-'));
  env = {
    DATABASE_URL: `sqlite:${path.join(folder, 'pm-mcp.sqlite')}`,
    PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
  };
  server = await startServerProcess(env);
  const account = await registerAccount(server.url);
  const { api_key: apiKey } = await createKey(server.url, account);
  proxy = createLoopbackProxy({
    port: 0,
    upstreamBaseUrl: server.url,
    credentials: { apiKey: () => apiKey, localToken: () => localToken },
  });
  const { port } = await proxy.start();
  proxyUrl = `http://127.0.0.1:${port}`;
}, 300_000);

afterAll(async () => {
  await proxy.stop();
  await server.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

it('keeps the editors working across a server restart on the same port', async () => {
  const clients = await Promise.all(
    (['modern', 'streamable'] as const).map((kind) =>
      connectMcpClient(proxyUrl, kind, { headers: { authorization: `Bearer ${localToken}` } }),
    ),
  );
  try {
    const listProviders = (client: (typeof clients)[number]) =>
      client.callTool({ name: 'list_providers', arguments: {} });
    for (const client of clients)
      expect(textOf(await listProviders(client))).toMatch(/connection/i);

    const port = server.port;
    expect(await server.stop('SIGTERM')).toBe(0);
    for (const client of clients)
      await expect(listProviders(client)).rejects.toThrow(/upstream_unreachable/);

    server = await startServerProcess(env, { port });
    expect(server.port).toBe(port);
    // The very next call of each existing client succeeds: no reconnect, no stale pooled socket.
    for (const client of clients)
      expect(textOf(await listProviders(client))).toMatch(/connection/i);
    expect(proxy.status().running).toBe(true);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}, 300_000);
