import { randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect } from 'node:net';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  createLoopbackProxy,
  generateLocalToken,
  type LoopbackProxy,
  type ProxyLogEvent,
} from '../../main/proxy/proxy.js';

/** A key-shaped random value made at run time (never a committed `mcp_` string). */
export const runtimeKey = (): string => `mcp_${randomBytes(24).toString('base64url')}`;

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A gate the test opens to let the fake upstream send its next SSE event. */
export interface Gate {
  open(): void;
  opened: Promise<void>;
}

function gate(): Gate {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

export interface FakeUpstream {
  baseUrl: string;
  port: number;
  received: RecordedRequest[];
  /** Status the JSON endpoints answer with (e.g. 401 to play a revoked key). */
  status: number;
  /** `GET /sse` sends event i+1 only after `sseGates[i]` opens. */
  sseGates: Gate[];
  /** Whether the upstream had ended the SSE stream, sampled per event by the test. */
  sseEnded: boolean;
  /** Resolves when the upstream's SSE response closes (ended by it, or the client went away). */
  sseClosed: Promise<'ended' | 'aborted'>;
  /** TCP connections the proxy opened to this upstream. */
  connections: number;
  /** Drop the next request that arrives on an already used connection, without answering. */
  dropNextReusedRequest: boolean;
  /** `GET /sse` breaks its connection after the first event (a crashed server). */
  breakSseAfterFirstEvent: boolean;
  close(): Promise<void>;
}

/**
 * A small `node:http` upstream that records what reached it. `POST`/`DELETE` on any path answer
 * JSON with the configured status, `GET /mcp` answers 405 like a server without a session, and
 * `GET /sse` streams three events, each released by the test.
 */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  let resolveSseClosed: (how: 'ended' | 'aborted') => void = () => undefined;
  const upstream: FakeUpstream = {
    baseUrl: '',
    port: 0,
    received: [],
    status: 200,
    sseGates: [gate(), gate()],
    sseEnded: false,
    sseClosed: new Promise((resolve) => {
      resolveSseClosed = resolve;
    }),
    close: () => Promise.resolve(),
    connections: 0,
    dropNextReusedRequest: false,
    breakSseAfterFirstEvent: false,
  };
  const usedSockets = new WeakSet<object>();

  async function streamEvents(res: ServerResponse): Promise<void> {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.on('close', () => resolveSseClosed(upstream.sseEnded ? 'ended' : 'aborted'));
    res.write('event: message\ndata: {"n":1}\n\n');
    if (upstream.breakSseAfterFirstEvent) {
      await upstream.sseGates[0]?.opened;
      res.socket?.destroy();
      return;
    }
    for (const [index, next] of upstream.sseGates.entries()) {
      await next.opened;
      if (res.destroyed) return;
      res.write(`event: message\ndata: {"n":${index + 2}}\n\n`);
    }
    upstream.sseEnded = true;
    res.end();
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (upstream.dropNextReusedRequest && usedSockets.has(req.socket)) {
      // As a server that closed an idle keep-alive connection just as the request arrived.
      upstream.dropNextReusedRequest = false;
      req.socket.destroy();
      return;
    }
    usedSockets.add(req.socket);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      upstream.received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (req.method === 'GET' && req.url?.startsWith('/sse')) {
        void streamEvents(res);
        return;
      }
      if (req.method === 'GET') {
        res.writeHead(405, { Allow: 'POST', 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'method_not_allowed' }));
        return;
      }
      const body =
        upstream.status === 401
          ? { error: 'invalid_api_key', message: 'Invalid API key' }
          : { ok: true, echo: Buffer.concat(chunks).toString('utf8') };
      res.writeHead(upstream.status, {
        'Content-Type': 'application/json',
        'Mcp-Session-Id': 'session-from-upstream',
        ...(upstream.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}),
      });
      res.end(JSON.stringify(body));
    });
  });
  server.on('connection', () => upstream.connections++);
  upstream.port = await listen(server);
  upstream.baseUrl = `http://127.0.0.1:${upstream.port}`;
  upstream.close = () => close(server);
  return upstream;
}

export interface SdkUpstream {
  baseUrl: string;
  received: RecordedRequest[];
  /** Forgets every Streamable HTTP session, as a restarted server would. */
  forgetSessions(): void;
  close(): Promise<void>;
}

function buildMcpServer(): McpServer {
  const server = new McpServer({ name: 'fake-pm-mcp', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes its text', inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }),
  );
  return server;
}

/**
 * A real MCP server from the SDK on express, as the PM MCP server is built: Streamable HTTP on
 * `/mcp` (stateful, SSE-framed responses) and legacy SSE on `/sse` + `/messages`. It checks
 * `X-MCP-API-Key` itself and answers 401 like the real server otherwise.
 */
export async function startSdkUpstream(expectedKey: () => string): Promise<SdkUpstream> {
  const received: RecordedRequest[] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the legacy transport is under test
  const sse = new Map<string, SSEServerTransport>();
  const app = express();
  app.use((req, res, next) => {
    received.push({ method: req.method, url: req.originalUrl, headers: req.headers, body: '' });
    if (req.headers['x-mcp-api-key'] !== expectedKey()) {
      res.status(401).set('WWW-Authenticate', 'Bearer');
      res.json({ error: 'invalid_api_key', message: 'Invalid API key' });
      return;
    }
    next();
  });
  app.use(express.json());

  async function handleMcp(req: Request, res: Response): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = streamable.get(sessionId);
      if (!transport) {
        res.status(404).json({
          jsonrpc: '2.0',
          error: { code: -32001, message: 'Session not found' },
          id: null,
        });
        return;
      }
      await transport.handleRequest(req, res, req.body);
      return;
    }
    if (req.method !== 'POST') {
      res.status(405).set('Allow', 'POST').json({ error: 'method_not_allowed' });
      return;
    }
    if (!isInitializeRequest(req.body)) {
      res.status(400).json({ error: 'initialize first' });
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id: string): void => {
        streamable.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) streamable.delete(transport.sessionId);
    };
    await buildMcpServer().connect(transport);
    await transport.handleRequest(req, res, req.body);
  }
  app.post('/mcp', handleMcp);
  app.get('/mcp', handleMcp);
  app.delete('/mcp', handleMcp);

  app.get('/sse', async (_req, res) => {
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the legacy transport is under test
    const transport = new SSEServerTransport('/messages', res);
    sse.set(transport.sessionId, transport);
    res.on('close', () => sse.delete(transport.sessionId));
    await buildMcpServer().connect(transport);
  });
  app.post('/messages', async (req, res) => {
    const transport = sse.get(typeof req.query.sessionId === 'string' ? req.query.sessionId : '');
    if (!transport) {
      res.status(404).json({ error: 'unknown session' });
      return;
    }
    await transport.handlePostMessage(req, res, req.body);
  });

  const server = createServer(app);
  const port = await listen(server);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    received,
    forgetSessions: () => streamable.clear(),
    close: async () => {
      for (const transport of streamable.values()) await transport.close();
      await close(server);
    },
  };
}

export interface RunningProxy {
  proxy: LoopbackProxy;
  port: number;
  address: string;
  baseUrl: string;
  localToken: string;
  /** What `apiKey()` returns; change it to play a key rotation or sign-out. */
  credentials: { apiKey: string | undefined };
  events: ProxyLogEvent[];
}

export async function startProxy(upstreamBaseUrl: string, apiKey: string): Promise<RunningProxy> {
  const localToken = generateLocalToken();
  const credentials: { apiKey: string | undefined } = { apiKey };
  const events: ProxyLogEvent[] = [];
  const proxy = createLoopbackProxy({
    port: 0,
    upstreamBaseUrl,
    credentials: { apiKey: () => credentials.apiKey, localToken: () => localToken },
    logger: (event) => events.push(event),
  });
  const { port, address } = await proxy.start();
  return {
    proxy,
    port,
    address,
    baseUrl: `http://127.0.0.1:${port}`,
    localToken,
    credentials,
    events,
  };
}

export interface PlainResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (node:http lets a test set Host and Origin). */
export async function send(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { host: `127.0.0.1:${port}`, ...options.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes on a TCP socket and returns everything the proxy answered until it closed. */
export async function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}
