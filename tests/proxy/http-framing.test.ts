import { Agent, request as httpRequest } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLoopbackProxy } from '../../main/proxy/proxy.js';
import {
  rawExchange,
  runtimeKey,
  startFakeUpstream,
  startProxy,
  type FakeUpstream,
  type RunningProxy,
} from './support.js';

let upstream: FakeUpstream;
let running: RunningProxy;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  running = await startProxy(upstream.baseUrl, runtimeKey());
});

afterEach(async () => {
  await running.proxy.stop();
  await upstream.close();
});

/** Host and token lines that pass every check, so only the framing is under test. */
const validLines = (): string =>
  `Host: 127.0.0.1:${running.port}\r\nAuthorization: Bearer ${running.localToken}\r\n`;

/** Status codes of the responses in a raw answer, in order. */
const statuses = (answer: string): number[] =>
  [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));

describe('request framing the proxy refuses', () => {
  const cases: [string, () => string, number][] = [
    [
      'Content-Length and Transfer-Encoding together',
      () =>
        `POST /mcp HTTP/1.1\r\n${validLines()}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    [
      'two Content-Length headers',
      () =>
        `POST /mcp HTTP/1.1\r\n${validLines()}Content-Length: 2\r\nContent-Length: 4\r\n\r\nabcd`,
      400,
    ],
    [
      'a transfer coding other than chunked',
      () =>
        `POST /mcp HTTP/1.1\r\n${validLines()}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    [
      'a folded header line',
      () => `GET /mcp HTTP/1.1\r\n${validLines()}X-Folded: a\r\n b\r\n\r\n`,
      400,
    ],
    [
      'whitespace before a colon',
      () => `GET /mcp HTTP/1.1\r\nHost : 127.0.0.1:${running.port}\r\n${validLines()}\r\n`,
      400,
    ],
    [
      'a bare LF inside the head',
      () => `GET /mcp HTTP/1.1\r\n${validLines()}X-A: 1\nX-B: 2\r\n\r\n`,
      400,
    ],
    ['a NUL in a header value', () => `GET /mcp HTTP/1.1\r\n${validLines()}X-A: a\0b\r\n\r\n`, 400],
    ['an invalid header name', () => `GET /mcp HTTP/1.1\r\n${validLines()}X(A): 1\r\n\r\n`, 400],
    ['a bad request line', () => `GET  /mcp HTTP/1.1\r\n${validLines()}\r\n`, 400],
    [
      'an unsupported expectation',
      () => `GET /mcp HTTP/1.1\r\n${validLines()}Expect: x\r\n\r\n`,
      400,
    ],
    ['HTTP/1.0', () => `GET /mcp HTTP/1.0\r\n${validLines()}\r\n`, 505],
    [
      'a head larger than 16 KiB',
      () => `GET /mcp HTTP/1.1\r\n${validLines()}X-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
      431,
    ],
  ];

  for (const [name, request, status] of cases) {
    it(`answers ${status} to ${name}, closes, and forwards nothing`, async () => {
      const answer = await rawExchange(running.port, request());
      expect(statuses(answer)).toEqual([status]);
      expect(answer).toContain('Connection: close');
      expect(upstream.received).toHaveLength(0);
    });
  }
});

describe('request framing the proxy relays', () => {
  it('forwards a chunked request body with its framing intact', async () => {
    const parts = ['{"jsonrpc":"2.0",', '"id":7,', '"method":"ping"}'];
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: running.port,
          method: 'POST',
          path: '/mcp',
          headers: { authorization: `Bearer ${running.localToken}` },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      for (const part of parts) req.write(part);
      req.end();
    });
    expect(status).toBe(200);
    expect(upstream.received[0]?.headers['transfer-encoding']).toBe('chunked');
    expect(upstream.received[0]?.body).toBe(parts.join(''));
  });

  it('answers pipelined requests in order on one connection', async () => {
    const body = '{"n":1}';
    const answer = await rawExchange(
      running.port,
      `POST /mcp HTTP/1.1\r\n${validLines()}Content-Length: ${body.length}\r\n\r\n${body}` +
        `POST /messages?sessionId=s HTTP/1.1\r\n${validLines()}Content-Length: 2\r\n\r\n{}` +
        `GET /mcp HTTP/1.1\r\n${validLines()}Connection: close\r\n\r\n`,
    );
    expect(statuses(answer)).toEqual([200, 200, 405]);
    expect(upstream.received.map((request) => [request.method, request.url, request.body])).toEqual(
      [
        ['POST', '/mcp', body],
        ['POST', '/messages?sessionId=s', '{}'],
        ['GET', '/mcp', ''],
      ],
    );
  });

  it('reads and drops a refused request’s body, keeping the connection usable', async () => {
    const answer = await rawExchange(
      running.port,
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${running.port}\r\nAuthorization: Bearer nope\r\n` +
        `Content-Length: 32\r\n\r\n${'x'.repeat(32)}` +
        `POST /mcp HTTP/1.1\r\n${validLines()}Content-Length: 2\r\nConnection: close\r\n\r\n{}`,
    );
    expect(statuses(answer)).toEqual([401, 200]);
    expect(upstream.received.map((request) => request.body)).toEqual(['{}']);
  });

  it('answers Expect: 100-continue itself and then forwards the body', async () => {
    const socket = connect({ host: '127.0.0.1', port: running.port });
    const received: string[] = [];
    let wake: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk.toString('latin1'));
      wake?.();
    });
    const until = async (text: string): Promise<void> => {
      while (!received.join('').includes(text))
        await new Promise<void>((resolve) => (wake = resolve));
    };
    socket.write(
      `POST /mcp HTTP/1.1\r\n${validLines()}Content-Length: 2\r\nExpect: 100-continue\r\n\r\n`,
    );
    await until('HTTP/1.1 100 Continue\r\n\r\n');
    expect(upstream.received).toHaveLength(0);
    socket.write('{}');
    await until('"ok":true');
    socket.destroy();
    expect(statuses(received.join(''))).toEqual([100, 200]);
    expect(upstream.received[0]?.body).toBe('{}');
    expect(upstream.received[0]?.headers.expect).toBeUndefined();
  });
});

describe('upstream connections', () => {
  async function postTimes(count: number, agent: Agent): Promise<number[]> {
    const results: number[] = [];
    for (let i = 0; i < count; i++) {
      results.push(
        await new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port: running.port,
              method: 'POST',
              path: '/mcp',
              headers: {
                authorization: `Bearer ${running.localToken}`,
                'content-type': 'application/json',
              },
              agent,
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end('{}');
        }),
      );
    }
    return results;
  }

  it('keeps upstream connections alive and reuses them', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      expect(await postTimes(10, agent)).toEqual(Array<number>(10).fill(200));
    } finally {
      agent.destroy();
    }
    expect(upstream.received).toHaveLength(10);
    expect(upstream.connections).toBe(1);
  });

  it('sends a request once more when the server dropped a reused connection', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      expect(await postTimes(1, agent)).toEqual([200]);
      upstream.dropNextReusedRequest = true;
      expect(await postTimes(1, agent)).toEqual([200]);
    } finally {
      agent.destroy();
    }
    expect(upstream.dropNextReusedRequest).toBe(false);
    expect(upstream.connections).toBe(2);
    expect(upstream.received).toHaveLength(2);
    expect(running.proxy.status().lastUpstreamError).toBeNull();
  });

  it('answers 502 when the server sends something that is not HTTP', async () => {
    const sockets: Socket[] = [];
    const garbage = createTcpServer((socket) => {
      sockets.push(socket);
      socket.on('data', () => socket.write('HELLO THERE\r\n\r\n'));
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const port = (garbage.address() as { port: number }).port;
    const proxy = createLoopbackProxy({
      port: 0,
      upstreamBaseUrl: `http://127.0.0.1:${port}`,
      credentials: { apiKey: runtimeKey, localToken: () => running.localToken },
    });
    const listening = await proxy.start();
    try {
      const answer = await rawExchange(
        listening.port,
        `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${listening.port}\r\n` +
          `Authorization: Bearer ${running.localToken}\r\nConnection: close\r\n\r\n`,
      );
      expect(statuses(answer)).toEqual([502]);
      expect(answer).toContain(
        `PM MCP server at http://127.0.0.1:${port} sent a malformed response`,
      );
      expect(proxy.status().lastUpstreamError).toContain('malformed response');
    } finally {
      await proxy.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });
});
