import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { serveCommands, startChild, startChildMain, type Child } from './child.js';

/**
 * The SDK v1 reference (B2's second baseline): `McpServer` + `StreamableHTTPServerTransport` with JSON
 * responses on express, no authentication and no database, one session reused. `list_providers`
 * answers from memory what the real server answers; `list_projects` asks the fake Jira site it
 * is given (`setJira`) with one plain `fetch`, as the real server asks its provider.
 */

/** The one connection both bare servers answer `list_providers` with. */
export const connection = {
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

export interface JiraSite {
  url: string;
  email: string;
  apiToken: string;
}

const jiraProjectsSchema = z.object({
  values: z.array(
    z.object({ key: z.string(), name: z.string(), description: z.string().nullish() }),
  ),
});

/** `list_projects` of the bare servers: one plain `fetch` to the fake Jira. */
export async function listJiraProjects(site: JiraSite) {
  const response = await fetch(`${site.url}/rest/api/3/project/search?startAt=0&maxResults=50`, {
    headers: {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${site.email}:${site.apiToken}`).toString('base64')}`,
    },
  });
  if (!response.ok) throw new Error(`Jira answered ${response.status}`);
  return jiraProjectsSchema.parse(await response.json()).values.map((project) => ({
    id: `${connection.id}:${project.key}`,
    key: project.key,
    name: project.name,
    description: project.description ?? null,
    connection_name: connection.name,
  }));
}

/** The two tools both bare servers serve, with the answers the real server gives. */
export const bareTools = {
  list_providers: {
    config: { title: 'List my PM connections', annotations: { readOnlyHint: true } },
    answer: () =>
      Promise.resolve({
        content: [
          {
            type: 'text' as const,
            text: `${connection.name} (${connection.provider_type}) ${connection.base_url} — active`,
          },
        ],
        structuredContent: { providers: [connection] },
      }),
  },
  list_projects: {
    config: { title: 'List my projects', annotations: { readOnlyHint: true } },
    answer: async (site: JiraSite | undefined) => {
      if (!site) throw new Error('no Jira site set');
      const projects = await listJiraProjects(site);
      return {
        content: [
          {
            type: 'text' as const,
            text: projects.map((p) => `• ${p.id} — ${p.name}  [${p.connection_name}]`).join('\n'),
          },
        ],
        structuredContent: { projects },
      };
    },
  },
};

function createBareServer(jira: () => JiraSite | undefined): McpServer {
  const server = new McpServer(
    { name: 'bare-sdk', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  for (const [name, tool] of Object.entries(bareTools)) {
    server.registerTool(name, tool.config, () => tool.answer(jira()));
  }
  return server;
}

export type BareSdkCommands = { setJira: (site: JiraSite) => void };
export type BareSdkServer = Child<BareSdkCommands, { url: string }>;

export function startBareSdkServer(): Promise<BareSdkServer> {
  return startChild<BareSdkCommands, { url: string }>(fileURLToPath(import.meta.url), {
    env: { BENCH_BARE_SDK: '1' },
  });
}

if (process.env.BENCH_BARE_SDK === '1' && process.send) {
  startChildMain(async () => {
    const transports = new Map<string, StreamableHTTPServerTransport>();
    let jira: JiraSite | undefined;
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
      await createBareServer(() => jira).connect(transport);
      await transport.handleRequest(req, res, req.body);
    });
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const { port } = server.address() as AddressInfo;
    const commands: BareSdkCommands = {
      setJira: (site) => {
        jira = site;
      },
    };
    await serveCommands(commands, {
      ready: { url: `http://127.0.0.1:${port}` },
      cleanup: async () => {
        await Promise.all([...transports.values()].map((transport) => transport.close()));
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    });
  });
}
