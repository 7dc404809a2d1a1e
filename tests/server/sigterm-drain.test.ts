import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { JiraFake } from '../fakes/jira-cloud.js';
import type { OpenProjectFake } from '../fakes/openproject.js';
import { startServerProcess, waitFor, type ServerProcess } from '../support/cluster.js';
import { createKey, registerAccount } from '../support/http.js';
import { connectFakeProviders, startSeededFakes } from '../support/provider-fakes.js';
import { connectMcpClient, type McpClientLike } from '../support/mcp.js';
import { ensureServerBuild } from '../support/server-build.js';

/**
 * SIGTERM under load (SPEC §3.9: stop accepting, finish what is in flight within 10 s, close the
 * SSE streams, release the database): the compiled server, as operators run it, with a tool call
 * in flight on a provider that never answers, fast calls in flight, open legacy SSE streams, idle
 * keep-alive connections and a connection that never finishes its request head. It must exit
 * within the 10 s drain bound (plus a margin for a busy machine) counted from the signal, after
 * finishing the fast calls.
 */

const drainBoundMs = 10_000;
const marginMs = 5_000;

let folder: string;
let server: ServerProcess;
let jira: JiraFake;
let openProject: OpenProjectFake;
let apiKey = '';
let jiraId = '';
let openProjectId = '';
const clients: McpClientLike[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  await ensureServerBuild();
  ({ jira, openProject } = await startSeededFakes());
  folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-sigterm-'));
  server = await startServerProcess({
    DATABASE_URL: `sqlite:${path.join(folder, 'pm-mcp.sqlite')}`,
    PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
    PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
    LOG_LEVEL: 'info',
  });
  const account = await registerAccount(server.url);
  ({ jiraId, openProjectId } = await connectFakeProviders(server.url, account, {
    jira,
    openProject,
  }));
  apiKey = (await createKey(server.url, account, { scope: 'write' })).api_key;
}, 300_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await server.stop('SIGKILL');
  await Promise.all([jira.stop(), openProject.stop()]);
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** A raw connection to the server: one keep-alive request answered, then left idle and open. */
async function idleKeepAlive(): Promise<Socket> {
  const socket = connect(server.port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
  let received = '';
  await waitFor('the keep-alive answer', () => {
    const chunk: unknown = socket.read();
    if (Buffer.isBuffer(chunk)) received += chunk.toString('utf8');
    return received.includes('"status":"ok"');
  });
  return socket;
}

it('exits within the drain bound, finishing fast calls in flight', async () => {
  const connectKind = (kind: 'modern' | 'sse') =>
    connectMcpClient(server.url, kind, { headers: { 'X-MCP-API-Key': apiKey } }).then((client) => {
      clients.push(client);
      return client;
    });
  const [hungClient, ...fastClients] = await Promise.all(
    Array.from({ length: 5 }, () => connectKind('modern')),
  );
  const sseClients = await Promise.all(Array.from({ length: 3 }, () => connectKind('sse')));
  for (const client of sseClients) await client.listTools();
  const idle = [];
  for (let index = 0; index < 4; index++) idle.push(await idleKeepAlive());
  // A request head that is never finished.
  const stalled = connect(server.port, '127.0.0.1');
  sockets.push(stalled);
  stalled.on('error', () => undefined);
  await once(stalled, 'connect');
  stalled.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);

  jira.setBehaviour({ hang: true });
  openProject.setBehaviour({ latencyMs: 1_500 });
  const hung = hungClient
    ?.callTool({ name: 'add_comment', arguments: { id: `${jiraId}:WEB-1`, body: 'Hung' } })
    .catch((error: unknown) => error);
  const fast = fastClients.map((client) =>
    client.callTool({ name: 'get_issue', arguments: { id: `${openProjectId}:1` } }),
  );
  // Every call has reached its provider (the fakes record requests on arrival).
  await waitFor(
    'the calls to reach the providers',
    () => jira.requests.length >= 1 && openProject.requests.length >= fastClients.length,
  );

  const signalled = Date.now();
  server.child.kill('SIGTERM');
  await waitFor('the server to say it is shutting down', () =>
    server.output.join('').includes('shutting down'),
  );
  // A client reconnecting its event stream on a kept-alive connection is turned away.
  const reconnect = idle[0] as Socket;
  reconnect.write(
    `GET /sse HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-MCP-API-Key: ${apiKey}\r\n\r\n`,
  );
  let refusal = '';
  await waitFor('the refusal of a new event stream', () => {
    const chunk: unknown = reconnect.read();
    if (Buffer.isBuffer(chunk)) refusal += chunk.toString('utf8');
    return refusal.includes('shutting_down');
  });
  expect(refusal).toMatch(/^HTTP\/1\.1 503/);
  expect(refusal).toMatch(/connection: close/i);

  await waitFor(
    'the server to exit',
    () => server.child.exitCode !== null || server.child.signalCode !== null,
    drainBoundMs + marginMs,
  );
  const exitedAfterMs = Date.now() - signalled;
  expect(await server.exited).toBe(0);
  expect(exitedAfterMs).toBeLessThan(drainBoundMs + marginMs);
  const fastResults = await Promise.all(fast);
  for (const result of fastResults) expect(result.isError).not.toBe(true);
  await hung;
}, 120_000);
