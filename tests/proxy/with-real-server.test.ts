import { PassThrough } from 'node:stream';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStdioBridge } from '../../main/proxy/bridge.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import {
  connectMcpClient,
  mcpTransportKinds,
  modernRevision,
  textOf,
  type McpClientLike,
} from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startProxy, type RunningProxy } from './support.js';

/** The PM MCP server itself (SQLite, in-process) behind the proxy: what an editor really meets. */

let server: TestServer;
let account: TestAccount;
let apiKey: string;
let keyId: string;
let running: RunningProxy;

beforeAll(async () => {
  server = await startTestServer();
  account = await registerAccount(server.url);
  const key = await createKey(server.url, account);
  apiKey = key.api_key;
  keyId = key.id;
  running = await startProxy(server.url, apiKey);
});

afterAll(async () => {
  await running.proxy.stop();
  await server.stop();
});

describe('the real server through the proxy', () => {
  for (const kind of mcpTransportKinds) {
    it(`lists and calls the PM tools over ${kind} with only the local token`, async () => {
      const client = await connectMcpClient(running.baseUrl, kind, {
        headers: { Authorization: `Bearer ${running.localToken}` },
      });
      try {
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toContain('list_providers');
        const result = await client.callTool({ name: 'list_providers', arguments: {} });
        // A new user has no provider connections yet: the tool says so (how to add one).
        expect(textOf(result)).toMatch(/connection/i);
      } finally {
        await client.close();
      }
    });
  }

  // Claude Desktop embeds a 2025-era client; a 2026-07-28 stdio editor goes through it too.
  it.each(['2025-era', '2026-07-28'] as const)(
    'serves a %s stdio editor through the bridge',
    async (era) => {
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const exit = runStdioBridge({
        url: `${running.baseUrl}/mcp`,
        headers: { Authorization: `Bearer ${running.localToken}` },
        stdin,
        stdout,
        stderr,
      });
      const buffer = new ReadBuffer();
      const transport = {
        onmessage: undefined as ((message: JSONRPCMessage) => void) | undefined,
        start() {
          stdout.on('data', (chunk: Buffer) => {
            buffer.append(chunk);
            for (let message = buffer.readMessage(); message; message = buffer.readMessage())
              this.onmessage?.(message);
          });
          return Promise.resolve();
        },
        send(message: JSONRPCMessage) {
          stdin.write(serializeMessage(message));
          return Promise.resolve();
        },
        close() {
          stdin.end();
          return Promise.resolve();
        },
      };
      let client: McpClientLike;
      if (era === '2025-era') {
        const legacy = new Client({ name: 'claude-desktop-like', version: '1.0.0' });
        await legacy.connect(transport);
        client = legacy as unknown as McpClientLike;
      } else {
        const modern = new ClientV2(
          { name: 'modern-stdio-editor', version: '1.0.0' },
          { versionNegotiation: { mode: { pin: modernRevision } } },
        );
        await modern.connect(transport);
        expect(modern.getNegotiatedProtocolVersion()).toBe(modernRevision);
        client = modern;
      }
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain('list_my_issues');
      const result = await client.callTool({ name: 'list_providers', arguments: {} });
      expect(textOf(result)).toMatch(/connection/i);
      await client.close();
      expect(await exit).toBe(0);
    },
  );

  it('reports a revoked key: a clear 401 to the editor, status and listeners', async () => {
    const notified: string[] = [];
    running.proxy.onUpstreamUnauthorized((event) => notified.push(event.at));
    const revoked = await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${keyId}`, {
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    expect(revoked.status).toBeLessThan(300);

    const response = await fetch(`${running.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${running.localToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'key_rejected' });
    expect(notified).toHaveLength(1);
    expect(running.proxy.status().upstreamUnauthorizedAt).toBe(notified[0]);
  });

  it('never let the key reach the server logs or the proxy log events', () => {
    expect(server.logs.join('')).not.toContain(apiKey);
    expect(JSON.stringify(running.events)).not.toContain(apiKey);
    expect(JSON.stringify(running.events)).not.toContain(running.localToken);
  });
});
