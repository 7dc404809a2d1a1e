import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../support/cluster.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Keep-alive without the reuse race: clients are told `Keep-Alive: timeout=5` (undici gives an
 * idle connection up after 3 s, Node's agent after 4 s), while the server keeps it for a minute.
 * A client whose idle timer runs late — as on a saturated machine, where the soak's direct clients
 * saw `fetch failed` — still finds its connection open instead of writing a request into one the
 * server is closing.
 */

let server: TestServer;
let port = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startTestServer();
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await server.stop();
});

/** Sends one request on the socket and resolves with the raw answer. */
async function exchange(socket: Socket): Promise<string> {
  let answer = '';
  const onData = (chunk: Buffer) => (answer += chunk.toString('utf8'));
  socket.on('data', onData);
  socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  try {
    await waitFor('the answer', () => answer.includes('"status":"ok"') || socket.readableEnded);
  } finally {
    socket.off('data', onData);
  }
  return answer;
}

it('advertises a short keep-alive and keeps an idle connection far longer', async () => {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let endedAt: number | undefined;
  socket.on('end', () => (endedAt = Date.now()));
  await once(socket, 'connect');

  const first = await exchange(socket);
  expect(first).toMatch(/^HTTP\/1\.1 200/);
  expect(first).toMatch(/\r\nKeep-Alive: timeout=5\r\n/i);
  expect(first).toMatch(/\r\nConnection: keep-alive\r\n/i);
  const answeredAt = Date.now();

  // Idle past the advertised 5 s, as a client whose idle timer fired a second late.
  await waitFor(
    'the connection to have been idle for 6 s',
    () => endedAt !== undefined || Date.now() - answeredAt >= 6_000,
    10_000,
    100,
  );
  expect(endedAt).toBeUndefined();
  const second = await exchange(socket);
  expect(second).toMatch(/^HTTP\/1\.1 200/);
});
