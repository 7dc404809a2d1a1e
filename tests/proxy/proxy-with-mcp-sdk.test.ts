import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  runtimeKey,
  send,
  startProxy,
  startSdkUpstream,
  type RunningProxy,
  type SdkUpstream,
} from './support.js';

let upstream: SdkUpstream;
let running: RunningProxy;
let serverKey: string;
const clients: Client[] = [];

beforeEach(async () => {
  serverKey = runtimeKey();
  upstream = await startSdkUpstream(() => serverKey);
  running = await startProxy(upstream.baseUrl, serverKey);
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await running.proxy.stop();
  await upstream.close();
});

function textOf(result: unknown): string {
  const content = (result as { content?: { text?: string }[] }).content ?? [];
  return content.map((item) => item.text ?? '').join('\n');
}

async function connectStreamable(headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'proxy-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', running.baseUrl), {
      requestInit: { headers },
    }),
  );
  clients.push(client);
  return client;
}

describe('an MCP SDK client through the proxy to an SDK server', () => {
  it('initializes, lists and calls tools over Streamable HTTP with only the local token', async () => {
    const client = await connectStreamable({ Authorization: `Bearer ${running.localToken}` });
    expect(client.getServerVersion()?.name).toBe('fake-pm-mcp');
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['echo']);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    expect(textOf(result)).toBe('echo: hello');

    // Every request reached the server with the proxy's key and without the local token.
    expect(upstream.received.length).toBeGreaterThanOrEqual(3);
    for (const request of upstream.received) {
      expect(request.headers['x-mcp-api-key']).toBe(serverKey);
      expect(request.headers.authorization).toBeUndefined();
    }
    // The client opened the long-lived GET /mcp stream (as Cursor does) and it was forwarded.
    expect(upstream.received.some((request) => request.method === 'GET')).toBe(true);
    expect(running.proxy.status().lastUpstreamError).toBeNull();
  });

  it('lists and calls tools over the legacy SSE transport', async () => {
    const headers = { Authorization: `Bearer ${running.localToken}` };
    const client = new Client({ name: 'proxy-test-sse', version: '1.0.0' });
    await client.connect(
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the legacy transport is under test
      new SSEClientTransport(new URL('/sse', running.baseUrl), {
        requestInit: { headers },
        eventSourceInit: {
          fetch: (input, init) =>
            fetch(input, {
              ...init,
              headers: { ...(init.headers as Record<string, string>), ...headers },
            }),
        },
      }),
    );
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['echo']);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'over sse' } });
    expect(textOf(result)).toBe('echo: over sse');
    const paths = upstream.received.map((request) => request.url.split('?')[0]);
    expect(paths).toContain('/sse');
    expect(paths).toContain('/messages');
  });

  it('answers a GET /mcp without a session with the server’s 405, not a 400', async () => {
    const response = await send(running.port, {
      path: '/mcp',
      headers: {
        authorization: `Bearer ${running.localToken}`,
        accept: 'text/event-stream',
      },
    });
    expect(response.status).toBe(405);
  });

  it('refuses a client with a wrong local token before the server sees anything', async () => {
    await expect(connectStreamable({ Authorization: 'Bearer wrong' })).rejects.toMatchObject({
      code: 401,
      message: expect.stringContaining('invalid_local_token') as unknown,
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('keeps the session working across a key rotation, and reports a revoked key', async () => {
    const client = await connectStreamable({ Authorization: `Bearer ${running.localToken}` });
    const notified: string[] = [];
    running.proxy.onUpstreamUnauthorized((event) => notified.push(event.at));

    // Rotation: the server now accepts only the new key; the proxy picks it up at once.
    serverKey = runtimeKey();
    running.credentials.apiKey = serverKey;
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'a' } }))).toBe(
      'echo: a',
    );
    expect(upstream.received.at(-1)?.headers['x-mcp-api-key']).toBe(serverKey);

    // Revocation: the server refuses the proxy's key.
    serverKey = runtimeKey();
    await expect(client.callTool({ name: 'echo', arguments: { text: 'b' } })).rejects.toMatchObject(
      { code: 401, message: expect.stringContaining('key_rejected') as unknown },
    );
    expect(notified).toHaveLength(1);
    expect(running.proxy.status().upstreamUnauthorizedAt).not.toBeNull();
  });
});
