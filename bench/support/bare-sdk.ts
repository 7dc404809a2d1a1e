import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { serveCommands, startChild, startChildMain, type Child } from './child.js';

/**
 * The SDK's ceiling on this machine: `McpServer` + `StreamableHTTPServerTransport` with JSON
 * responses on express, no authentication and no database, one session reused. Its tools answer
 * what the real server's tools answer, from memory.
 */

const connection = {
  id: '00000000-0000-4000-8000-000000000000',
  name: 'Jira Cloud',
  provider_type: 'jira',
  base_url: 'https://example.atlassian.net',
  is_active: true,
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-01T00:00:00.000Z',
  last_checked_at: null,
  last_check_ok: null,
  last_check_message: null,
};

function createBareServer(): McpServer {
  const server = new McpServer(
    { name: 'bare-sdk', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  server.registerTool(
    'list_providers',
    { title: 'List my PM connections', annotations: { readOnlyHint: true } },
    () => ({
      content: [
        {
          type: 'text',
          text: `${connection.name} (${connection.provider_type}) ${connection.base_url} — active`,
        },
      ],
      structuredContent: { providers: [connection] },
    }),
  );
  return server;
}

export type BareSdkServer = Child<Record<string, never>, { url: string }>;

export function startBareSdkServer(): Promise<BareSdkServer> {
  return startChild(fileURLToPath(import.meta.url), { env: { BENCH_BARE_SDK: '1' } });
}

if (process.env.BENCH_BARE_SDK === '1' && process.send) {
  startChildMain(async () => {
    const transports = new Map<string, StreamableHTTPServerTransport>();
    const app = express();
    app.use(express.json());
    app.post('/mcp', async (req, res) => {
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (existing) {
        await existing.handleRequest(req, res, req.body);
        return;
      }
      if (!isInitializeRequest(req.body)) {
        res
          .status(400)
          .json({ jsonrpc: '2.0', error: { code: -32000, message: 'No session' }, id: null });
        return;
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: true,
        onsessioninitialized: (id) => {
          transports.set(id, transport);
        },
      });
      await createBareServer().connect(transport);
      await transport.handleRequest(req, res, req.body);
    });
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const { port } = server.address() as AddressInfo;
    serveCommands(
      {},
      {
        ready: { url: `http://127.0.0.1:${port}` },
        cleanup: async () => {
          await Promise.all([...transports.values()].map((transport) => transport.close()));
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        },
      },
    );
  });
}
