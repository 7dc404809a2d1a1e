import { request as httpRequest, createServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDesktopError } from '../../main/errors.js';
import { createLoopbackProxy, generateLocalToken } from '../../main/proxy/proxy.js';
import {
  rawExchange,
  runtimeKey,
  send,
  startFakeUpstream,
  startProxy,
  type FakeUpstream,
  type RunningProxy,
} from './support.js';

let upstream: FakeUpstream;
let running: RunningProxy;
let apiKey: string;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  apiKey = runtimeKey();
  running = await startProxy(upstream.baseUrl, apiKey);
});

afterEach(async () => {
  await running.proxy.stop();
  await upstream.close();
});

const auth = (): Record<string, string> => ({ authorization: `Bearer ${running.localToken}` });

function post(path = '/mcp', headers: Record<string, string> = {}, body = '{"jsonrpc":"2.0"}') {
  return send(running.port, {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...auth(), ...headers },
    body,
  });
}

/** The secrets of this test: none may appear in a response body or a log event. */
function expectNoSecretIn(text: string): void {
  expect(text).not.toContain(apiKey);
  expect(text).not.toContain(running.localToken);
}

async function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('where the proxy listens', () => {
  it('binds 127.0.0.1 only and is not reachable on other local addresses', async () => {
    expect(running.address).toBe('127.0.0.1');
    expect(await canConnect('127.0.0.1', running.port)).toBe(true);
    const otherAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((entry) => entry !== undefined && !entry.internal)
      .map((entry) => entry?.address ?? '');
    for (const address of otherAddresses) {
      expect(await canConnect(address, running.port), address).toBe(false);
    }
    expect(await canConnect('::1', running.port)).toBe(false);
  });

  it('reports port_in_use naming the port when the port is taken', async () => {
    const second = createLoopbackProxy({
      port: running.port,
      upstreamBaseUrl: upstream.baseUrl,
      credentials: { apiKey: () => apiKey, localToken: () => running.localToken },
    });
    const error: unknown = await second.start().catch((caught: unknown) => caught);
    expect(isDesktopError(error) && error.code).toBe('port_in_use');
    expect((error as Error).message).toContain(String(running.port));
    expect(second.status().running).toBe(false);
  });

  it('stops, reports it, and frees the port', async () => {
    await running.proxy.stop();
    expect(running.proxy.status().running).toBe(false);
    expect(await canConnect('127.0.0.1', running.port)).toBe(false);
  });

  it('starts again after a stop and forwards as before', async () => {
    await running.proxy.stop();
    const { port } = await running.proxy.start();
    running.port = port;
    expect((await post()).status).toBe(200);
    expect(running.proxy.status()).toMatchObject({ running: true, port, requests: 1 });
  });

  it('stops promptly with an event stream open, closing it upstream', async () => {
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: running.port, path: '/sse', headers: auth(), agent: false },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    stream.on('error', () => undefined);
    await running.proxy.stop();
    expect(await upstream.sseClosed).toBe('aborted');
  });

  it('refuses an upstream URL that is not http(s) or carries credentials', () => {
    const credentials = { apiKey: () => apiKey, localToken: () => running.localToken };
    for (const upstreamBaseUrl of ['ftp://example.test', 'not a url', 'http://u:p@example.test']) {
      let caught: unknown;
      try {
        createLoopbackProxy({ port: 0, upstreamBaseUrl, credentials });
      } catch (error) {
        caught = error;
      }
      expect(isDesktopError(caught) && caught.code, upstreamBaseUrl).toBe('usage');
      expect((caught as Error).message).not.toContain('u:p');
    }
  });
});

describe('what is refused before anything is forwarded', () => {
  it('answers a foreign Host with 403 and forwards nothing', async () => {
    for (const host of ['evil.example', `evil.example:${running.port}`, '127.0.0.1:1']) {
      const response = await post('/mcp', { host });
      expect(response.status, host).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'forbidden_host' });
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('accepts both loopback Host spellings', async () => {
    expect((await post('/mcp', { host: `localhost:${running.port}` })).status).toBe(200);
    expect((await post('/mcp', { host: `127.0.0.1:${running.port}` })).status).toBe(200);
    expect(upstream.received).toHaveLength(2);
  });

  it('answers any request carrying an Origin header with 403 and forwards nothing', async () => {
    for (const origin of [
      'https://evil.example',
      `http://127.0.0.1:${running.port}`,
      `http://localhost:${running.port}`,
      'null',
    ]) {
      const response = await post('/mcp', { origin });
      expect(response.status, origin).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'forbidden_origin' });
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('answers a missing or wrong local token with 401 and WWW-Authenticate', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${generateLocalToken()}` },
      { authorization: `Bearer ${running.localToken}x` },
      { authorization: `Bearer ${running.localToken.slice(0, -1)}` },
      {
        authorization: `Bearer ${running.localToken.slice(0, -1)}${running.localToken.endsWith('A') ? 'B' : 'A'}`,
      },
      { authorization: `Basic ${running.localToken}` },
      { authorization: running.localToken },
      { 'x-mcp-api-key': apiKey },
    ];
    for (const headers of attempts) {
      const response = await send(running.port, { method: 'POST', path: '/mcp', headers });
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_local_token' });
      expectNoSecretIn(response.body);
    }
    expect(upstream.received).toHaveLength(0);
    expect(running.proxy.status().requests).toBe(0);
  });

  it('refuses paths other than /mcp, /sse and /messages even with the right token', async () => {
    for (const path of ['/', '/api/users/me', '/mcp/', '/mcp/../api/auth/login', '/sse2', '/MCP']) {
      const response = await post(path);
      expect(response.status, path).toBe(404);
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses an absolute-form request target on a raw socket', async () => {
    const answer = await rawExchange(
      running.port,
      `GET ${upstream.baseUrl}/mcp HTTP/1.1\r\nHost: 127.0.0.1:${running.port}\r\n` +
        `Authorization: Bearer ${running.localToken}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('absolute_form_refused');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses CONNECT on a raw socket', async () => {
    const answer = await rawExchange(
      running.port,
      `CONNECT 127.0.0.1:${upstream.port} HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\n` +
        `Authorization: Bearer ${running.localToken}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 405 /);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses an asterisk-form target and a path outside the list on a raw socket', async () => {
    const star = await rawExchange(
      running.port,
      `OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1:${running.port}\r\nConnection: close\r\n\r\n`,
    );
    expect(star).toMatch(/^HTTP\/1\.1 400 /);
    const other = await rawExchange(
      running.port,
      `GET /api/users/me HTTP/1.1\r\nHost: 127.0.0.1:${running.port}\r\n` +
        `Authorization: Bearer ${running.localToken}\r\nConnection: close\r\n\r\n`,
    );
    expect(other).toMatch(/^HTTP\/1\.1 404 /);
    expect(upstream.received).toHaveLength(0);
  });

  it('answers 503 with a clear message when signed out (no key), forwarding nothing', async () => {
    running.credentials.apiKey = undefined;
    const response = await post();
    expect(response.status).toBe(503);
    const body = JSON.parse(response.body) as { error: string; message: string };
    expect(body.error).toBe('not_signed_in');
    expect(body.message).toMatch(/signed out/i);
    expect(upstream.received).toHaveLength(0);
  });

  it('never puts a secret into a refusal or a log event', async () => {
    const responses = [
      await post('/mcp', { host: 'evil.example' }),
      await post('/mcp', { origin: 'https://evil.example' }),
      await post('/nope'),
      await send(running.port, { path: '/mcp', headers: { authorization: 'Bearer nope' } }),
    ];
    for (const response of responses) expectNoSecretIn(response.body);
    expect(running.events.filter((event) => event.type === 'request_refused')).toHaveLength(4);
    expectNoSecretIn(JSON.stringify(running.events));
  });
});

describe('what is forwarded', () => {
  it("strips the client's credentials and adds the proxy's key", async () => {
    const clientKey = runtimeKey();
    const response = await post(
      `/mcp?sessionId=abc&api_key=${clientKey}&user_id=someone&api%5Fkey=${clientKey}`,
      {
        'x-mcp-api-key': clientKey,
        cookie: 'session=stolen',
        'x-user-id': 'someone-else',
        'proxy-authorization': 'Basic c29tZW9uZQ==',
        'mcp-session-id': 'session-123',
        'mcp-protocol-version': '2025-06-18',
        'x-custom': 'kept',
      },
      '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    );
    expect(response.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const seen = upstream.received[0];
    expect(seen?.url).toBe('/mcp?sessionId=abc');
    expect(seen?.headers['x-mcp-api-key']).toBe(apiKey);
    expect(seen?.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    for (const header of ['authorization', 'cookie', 'x-user-id', 'proxy-authorization'])
      expect(seen?.headers[header], header).toBeUndefined();
    expect(seen?.headers['mcp-session-id']).toBe('session-123');
    expect(seen?.headers['mcp-protocol-version']).toBe('2025-06-18');
    expect(seen?.headers['x-custom']).toBe('kept');
    expect(seen?.body).toBe('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    expect(JSON.stringify(seen)).not.toContain(clientKey);
    expect(JSON.stringify(seen)).not.toContain(running.localToken);
    // The upstream's answer comes back with its headers, and without the key.
    expect(response.headers['mcp-session-id']).toBe('session-from-upstream');
    expect(JSON.parse(response.body)).toMatchObject({ ok: true });
    expectNoSecretIn(response.body);
  });

  it('streams a large request body through unchanged', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 2, params: { text: 'x'.repeat(300_000) } });
    const response = await post('/messages?sessionId=s1', {}, big);
    expect(response.status).toBe(200);
    expect(upstream.received[0]?.body).toBe(big);
    expect(upstream.received[0]?.url).toBe('/messages?sessionId=s1');
  });

  it('passes GET /mcp through so the server answers it (405 here), never a proxy 400', async () => {
    const response = await send(running.port, {
      path: '/mcp',
      headers: { ...auth(), accept: 'text/event-stream' },
    });
    expect(response.status).toBe(405);
    expect(upstream.received[0]).toMatchObject({ method: 'GET', url: '/mcp' });
  });

  it('uses the rotated key on the next request without a restart', async () => {
    await post();
    const rotated = runtimeKey();
    running.credentials.apiKey = rotated;
    await post();
    expect(upstream.received.map((request) => request.headers['x-mcp-api-key'])).toEqual([
      apiKey,
      rotated,
    ]);
    expect(running.proxy.status()).toMatchObject({ running: true, requests: 2 });
    expect(running.events.filter((event) => event.type === 'listening')).toHaveLength(1);
  });

  it('counts forwarded requests and when the last one was', async () => {
    expect(running.proxy.status()).toMatchObject({
      running: true,
      port: running.port,
      requests: 0,
      lastRequestAt: null,
      lastUpstreamError: null,
      upstreamUnauthorizedAt: null,
    });
    const before = Date.now();
    await post();
    await post();
    await post('/nope');
    const status = running.proxy.status();
    expect(status.requests).toBe(2);
    expect(Date.parse(status.lastRequestAt ?? '')).toBeGreaterThanOrEqual(before - 1);
  });
});

describe('server-sent events', () => {
  /** Reads the proxied SSE stream, noting for each chunk whether the upstream had ended it. */
  function openStream(): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: running.port,
          path: '/sse',
          headers: { ...auth(), accept: 'text/event-stream' },
          agent: false,
        },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Collects the stream's chunks as they arrive; `next()` waits for the next one. */
  function chunksOf(stream: IncomingMessage) {
    const chunks: { text: string; upstreamEnded: boolean }[] = [];
    let wake: (() => void) | undefined;
    stream.on('data', (chunk: Buffer) => {
      // Sampled when the chunk arrives: had the upstream already ended its stream?
      chunks.push({ text: chunk.toString('utf8'), upstreamEnded: upstream.sseEnded });
      wake?.();
    });
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    return {
      ended,
      async next() {
        while (chunks.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        return chunks.shift() as { text: string; upstreamEnded: boolean };
      },
    };
  }

  it('delivers each event as it is sent, the first before the upstream ends the stream', async () => {
    const stream = await openStream();
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
    const chunks = chunksOf(stream);

    // The upstream holds event n+1 back until event n has reached the client through the proxy:
    // a proxy that buffered the stream would never deliver event 1 and this test would fail.
    const first = await chunks.next();
    expect(first).toEqual({ text: 'event: message\ndata: {"n":1}\n\n', upstreamEnded: false });
    upstream.sseGates[0]?.open();
    const second = await chunks.next();
    expect(second).toEqual({ text: 'event: message\ndata: {"n":2}\n\n', upstreamEnded: false });
    upstream.sseGates[1]?.open();
    const third = await chunks.next();
    expect(third.text).toBe('event: message\ndata: {"n":3}\n\n');
    await chunks.ended;
    expect(await upstream.sseClosed).toBe('ended');
  });

  it('cuts the client stream off (not a clean end) when the server breaks it', async () => {
    upstream.breakSseAfterFirstEvent = true;
    const stream = await openStream();
    const chunks = chunksOf(stream);
    const closed = new Promise<boolean>((resolve) =>
      stream.on('close', () => resolve(stream.complete)),
    );
    stream.on('error', () => undefined);
    expect((await chunks.next()).text).toContain('"n":1');
    upstream.sseGates[0]?.open();
    expect(await closed).toBe(false);
  });

  it('closes the upstream stream when the client goes away', async () => {
    const stream = await openStream();
    await chunksOf(stream).next();
    stream.destroy();
    expect(await upstream.sseClosed).toBe('aborted');
  });
});

describe('when the server refuses the key or is down', () => {
  it('counts an upstream 401, notifies listeners, and says the key was rejected', async () => {
    upstream.status = 401;
    const notified: string[] = [];
    const unsubscribe = running.proxy.onUpstreamUnauthorized((event) => notified.push(event.at));
    const response = await post();
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'key_rejected' });
    expectNoSecretIn(response.body);
    expect(notified).toHaveLength(1);
    expect(running.proxy.status().upstreamUnauthorizedAt).toBe(notified[0]);

    unsubscribe();
    await post();
    expect(notified).toHaveLength(1);

    // A key that works again (after a new key) clears the flag.
    upstream.status = 200;
    running.credentials.apiKey = runtimeKey();
    await post();
    expect(running.proxy.status().upstreamUnauthorizedAt).toBeNull();
  });

  it('answers 502 with a clear message when the server is unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));

    const proxy = createLoopbackProxy({
      port: 0,
      upstreamBaseUrl: `http://127.0.0.1:${deadPort}`,
      credentials: { apiKey: () => apiKey, localToken: () => running.localToken },
    });
    const { port } = await proxy.start();
    try {
      const response = await send(port, { method: 'POST', path: '/mcp', headers: auth() });
      expect(response.status).toBe(502);
      const body = JSON.parse(response.body) as { error: string; message: string };
      expect(body.error).toBe('upstream_unreachable');
      expect(body.message).toMatch(
        new RegExp(`^PM MCP server at http://127\\.0\\.0\\.1:${deadPort} is unreachable: `),
      );
      expect(body.message).toContain('connection refused');
      expectNoSecretIn(response.body);
      expect(proxy.status().lastUpstreamError).toBe(body.message);
    } finally {
      await proxy.stop();
    }
  });
});

describe('the local token', () => {
  it('is at least 128 bits of fresh randomness, URL-safe', () => {
    const tokens = new Set(Array.from({ length: 50 }, generateLocalToken));
    expect(tokens.size).toBe(50);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    }
  });
});
