import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import {
  createKey,
  registerAccount,
  request,
  type CreatedKey,
  type TestAccount,
} from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/cluster.js';

interface OpenedStream {
  status: number;
  endpoint: string;
  events: string[];
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
}

/** Opens `GET /sse` and reads it event by event until it ends or is closed. */
async function openStream(url: string, init: RequestInit = {}): Promise<OpenedStream> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  const events: string[] = [];
  let ended = false;
  let endpoint = '';
  if (response.status !== 200 || !response.body) {
    await response.text();
    return {
      status: response.status,
      endpoint,
      events,
      ended: Promise.resolve(),
      isEnded: () => true,
      close: () => undefined,
    };
  }
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let buffer = '';
  let gotEndpoint: () => void = () => undefined;
  const endpointSeen = new Promise<void>((resolve) => (gotEndpoint = resolve));
  const done = (async () => {
    try {
      for (;;) {
        const { done: finished, value } = await reader.read();
        if (finished) break;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          events.push(event);
          if (event.startsWith('event: endpoint')) {
            endpoint = /^data: (.*)$/m.exec(event)?.[1] ?? '';
            gotEndpoint();
          }
        }
      }
    } catch {
      // closed by the test
    }
    ended = true;
    gotEndpoint();
  })();
  await endpointSeen;
  return {
    status: response.status,
    endpoint,
    events,
    ended: done,
    isEnded: () => ended,
    close: () => controller.abort(),
  };
}

describe.each(databaseKinds)('legacy SSE streams on %s', (database) => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let aliceKey: CreatedKey;
  const opened: OpenedStream[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      database,
      sseLimits: { perKey: 3, perUser: 4, idleMs: 1_500 },
    });
    alice = await registerAccount(server.url, 'Alice');
    bob = await registerAccount(server.url, 'Bob');
    aliceKey = await createKey(server.url, alice);
  });
  afterAll(async () => {
    for (const stream of opened) stream.close();
    await server.stop();
  });

  const sse = async (apiKey: string, viaQuery = false) => {
    const url = new URL('/sse', server.url);
    if (viaQuery) url.searchParams.set('api_key', apiKey);
    const stream = await openStream(url.href, {
      headers: viaQuery ? {} : { 'x-mcp-api-key': apiKey },
    });
    opened.push(stream);
    return stream;
  };
  const post = (endpoint: string, body: unknown, headers: Record<string, string> = {}) =>
    request(server.url, 'POST', endpoint, { body, headers });

  it('puts only a 256-bit, non-UUID stream id in the endpoint URL, even for ?api_key=', async () => {
    const ids = new Set<string>();
    for (let round = 0; round < 3; round += 1) {
      const key = await createKey(server.url, alice);
      const stream = await sse(key.api_key, true);
      expect(stream.endpoint).toMatch(/^\/messages\?sessionId=[A-Za-z0-9_-]{43}$/);
      expect(stream.endpoint).not.toContain(key.api_key);
      expect(stream.endpoint).not.toContain('api_key');
      const id = stream.endpoint.split('=')[1] ?? '';
      expect(id).not.toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/i);
      expect(Buffer.from(id, 'base64url')).toHaveLength(32);
      ids.add(id);
      stream.close();
    }
    expect(ids.size).toBe(3);
  });

  it('takes POSTs authorised by the stream id alone, and answers them on the stream', async () => {
    const stream = await sse(aliceKey.api_key);
    const posted = await post(stream.endpoint, {
      jsonrpc: '2.0',
      id: 7,
      method: 'initialize',
      params: {
        protocolVersion: '2024-11-05',
        capabilities: {},
        clientInfo: { name: 'no-headers', version: '1' },
      },
    });
    expect(posted.status).toBe(202);
    await waitFor('the answer on the stream', () =>
      stream.events.some((event) => event.includes('"id":7')),
    );
    // Another user's credential on it: as unknown as a stream that does not exist.
    const bobs = await createKey(server.url, bob);
    const foreign = await post(
      stream.endpoint,
      { jsonrpc: '2.0', id: 8, method: 'ping' },
      { 'x-mcp-api-key': bobs.api_key },
    );
    expect(foreign.status).toBe(404);
    // An invalid credential is a 401, never a fall-through to the stream id.
    const garbage = await post(
      stream.endpoint,
      { jsonrpc: '2.0', id: 9, method: 'ping' },
      { 'x-mcp-api-key': 'mcp_not-a-real-key' },
    );
    expect(garbage.status).toBe(401);
    stream.close();
  });

  it('caps open streams per key and per user with 429 and Retry-After', async () => {
    const key = await createKey(server.url, bob);
    const streams = [await sse(key.api_key), await sse(key.api_key), await sse(key.api_key)];
    const refused = await fetch(new URL('/sse', server.url), {
      headers: { 'x-mcp-api-key': key.api_key },
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refused.json()) as { error: string }).error).toBe('too_many_streams');
    // Another key of the same user may add one more (4 per user), then the user is full.
    const second = await createKey(server.url, bob);
    const fourth = await sse(second.api_key);
    expect(fourth.status).toBe(200);
    const full = await fetch(new URL('/sse', server.url), {
      headers: { 'x-mcp-api-key': second.api_key },
    });
    expect(full.status).toBe(429);
    await full.text();
    // Closing one frees a place.
    streams[0]?.close();
    await waitFor('the closed stream to be forgotten', async () => {
      const again = await fetch(new URL('/sse', server.url), {
        headers: { 'x-mcp-api-key': key.api_key },
      });
      if (again.status === 200) {
        opened.push({ ...fourth, close: () => void again.body?.cancel() });
        return true;
      }
      await again.text();
      return false;
    });
    for (const stream of [...streams, fourth]) stream.close();
  });

  it('closes a stream nothing was posted to for the idle time', async () => {
    const key = await createKey(server.url, alice);
    const stream = await sse(key.api_key);
    await stream.ended;
    expect(stream.isEnded()).toBe(true);
  });

  it('closes a stream when its key expires', async () => {
    const key = await createKey(server.url, alice);
    await server.app.database.db
      .updateTable('user_mcp_api_keys')
      .set({ expires_at: new Date(Date.now() + 700).toISOString() })
      .where('id', '=', key.id)
      .execute();
    server.app.keyCache.flush();
    const stream = await sse(key.api_key);
    const openedAt = Date.now();
    await stream.ended;
    // Closed by the expiry, not by the 1.5 s idle limit.
    expect(Date.now() - openedAt).toBeLessThan(1_400);
  });
});
