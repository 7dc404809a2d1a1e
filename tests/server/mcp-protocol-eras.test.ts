import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allToolNames } from '../../server/mcp/tools/names.js';
import { createKey, registerAccount, type CreatedKey } from '../support/http.js';
import { allMcpClientKinds, connectMcpClient, modernRevision } from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The two protocol eras on `/mcp` (SPEC §3.6), and what each does with bad input. */
describe('MCP protocol eras on /mcp', () => {
  let server: TestServer;
  let key: CreatedKey;

  beforeAll(async () => {
    server = await startTestServer();
    key = await createKey(server.url, await registerAccount(server.url, 'Eve'));
  });
  afterAll(async () => {
    await server.stop();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-mcp-api-key': key.api_key,
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const envelope = {
    'io.modelcontextprotocol/protocolVersion': modernRevision,
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const modernHeaders = (method: string, name?: string) => ({
    'mcp-protocol-version': modernRevision,
    'mcp-method': method,
    ...(name ? { 'mcp-name': name } : {}),
  });

  it.each(allMcpClientKinds)('serves a %s client the same tools', async (kind) => {
    const client = await connectMcpClient(server.url, kind, {
      headers: { 'X-MCP-API-Key': key.api_key },
    });
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      expect(names).toEqual([...allToolNames].sort());
    } finally {
      await client.close();
    }
  });

  it('answers server/discover with the revisions it speaks, and a tools/call without a handshake', async () => {
    const discover = await post(
      { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: envelope } },
      modernHeaders('server/discover'),
    );
    expect(discover.status).toBe(200);
    const discovered = JSON.stringify(await discover.json());
    expect(discovered).toContain(modernRevision);
    const call = await post(
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'list_providers', arguments: {}, _meta: envelope },
      },
      modernHeaders('tools/call', 'list_providers'),
    );
    expect(call.status).toBe(200);
    const answer = (await call.json()) as { result?: { isError?: boolean } };
    // No connections yet: a tool error that says how to add one (not a protocol error).
    expect(answer.result?.isError).toBe(true);
  });

  it.each([
    [
      'a malformed envelope',
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/list',
        params: { _meta: { ...envelope, 'io.modelcontextprotocol/clientInfo': 'not an object' } },
      },
      modernHeaders('tools/list'),
    ],
    [
      'a header naming another method than the body',
      { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: envelope } },
      modernHeaders('tools/call', 'list_providers'),
    ],
    [
      'a tool name header that disagrees with the body',
      {
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'list_providers', arguments: {}, _meta: envelope },
      },
      modernHeaders('tools/call', 'get_issue'),
    ],
    [
      'an unsupported revision',
      {
        jsonrpc: '2.0',
        id: 6,
        method: 'tools/list',
        params: {
          _meta: { ...envelope, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' },
        },
      },
      { ...modernHeaders('tools/list'), 'mcp-protocol-version': '2099-01-01' },
    ],
    [
      'the modern header without an envelope',
      { jsonrpc: '2.0', id: 7, method: 'tools/list' },
      modernHeaders('tools/list'),
    ],
  ] as const)('answers %s with a JSON-RPC error, never a 500', async (_label, body, headers) => {
    const response = await post(body, headers);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const answer = (await response.json()) as { jsonrpc: string; error?: { code: number } };
    expect(answer.jsonrpc).toBe('2.0');
    expect(typeof answer.error?.code).toBe('number');
  });

  it('answers a body that is not JSON with a parse error, never a 500', async () => {
    const response = await post('{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error?: { code: number } }).error?.code).toBe(-32700);
  });

  it('answers GET and DELETE of the stateless endpoint with 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(new URL('/mcp', server.url), {
        method,
        headers: { 'x-mcp-api-key': key.api_key, accept: 'text/event-stream' },
      });
      expect(response.status).toBe(405);
    }
  });

  it('answers a message for an unknown SSE stream with 404', async () => {
    const response = await fetch(new URL('/messages?sessionId=unknown', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.status).toBe(404);
  });
});
