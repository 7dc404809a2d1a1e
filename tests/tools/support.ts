import { expect } from 'vitest';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { connectEraClient, type McpClientLike, type ProtocolEra } from '../support/mcp.js';
import {
  registerPmTools,
  type ToolConnection,
  type ToolContext,
} from '../../server/mcp/tools/index.js';
import {
  createProviderClient,
  type ProviderHttpOptions,
  type ProviderType,
} from '../../server/providers/index.js';

export const toolHttp: ProviderHttpOptions = {
  timeoutMs: 5_000,
  maxAttempts: 2,
  maxRetryWaitMs: 1_000,
  fallbackRetryDelayMs: 10,
  // The fakes listen on loopback, which a provider base URL may not reach by default.
  allowedHosts: ['127.0.0.1'],
};

export interface ConnectionSpec {
  id?: string;
  providerType: ProviderType;
  name: string;
  baseUrl: string;
  email?: string;
  apiToken: string;
  isActive?: boolean;
}

/** A connection as the server would hand it to the tools (credentials only inside `client()`). */
export function toolConnection(
  spec: ConnectionSpec,
  httpOptions: ProviderHttpOptions = toolHttp,
): ToolConnection {
  const { apiToken, email } = spec;
  return {
    id: spec.id ?? randomUUID(),
    providerType: spec.providerType,
    name: spec.name,
    baseUrl: spec.baseUrl,
    isActive: spec.isActive ?? true,
    lastCheckedAt: '2025-06-01T10:00:00.000Z',
    lastCheckOk: true,
    lastCheckMessage: 'Signed in.',
    client: () =>
      createProviderClient(
        { providerType: spec.providerType, baseUrl: spec.baseUrl, email, apiToken },
        httpOptions,
      ),
  };
}

/** A ToolContext over one user's connections, like the server builds per session. */
export function contextOver(
  connections: ToolConnection[],
  options: { scope?: 'read' | 'write'; perProviderTimeoutMs?: number } = {},
): ToolContext {
  return {
    scope: options.scope ?? 'write',
    perProviderTimeoutMs: options.perProviderTimeoutMs ?? 3_000,
    connections: {
      listActive: () => Promise.resolve(connections.filter((connection) => connection.isActive)),
      listAll: () => Promise.resolve([...connections]),
      get: (id) => Promise.resolve(connections.find((connection) => connection.id === id)),
    },
  };
}

export interface ToolCallOutcome<S = Record<string, unknown>> {
  text: string;
  structured: S;
  isError: boolean;
}

export interface ConnectedTools {
  client: McpClientLike;
  call<S = Record<string, unknown>>(
    name: string,
    args?: Record<string, unknown>,
  ): Promise<ToolCallOutcome<S>>;
  /** Every text and structured result seen so far, for leak checks. */
  transcript: string[];
  close(): Promise<void>;
}

/**
 * The PM tools served over real HTTP by SDK v2's per-request handler (as the server does, minus
 * authentication), and the SDK's real client of the chosen protocol era connected to it. Tool
 * suites run once per era: the tools must answer identically in both.
 */
export async function connectTools(
  context: ToolContext | (() => ToolContext),
  era: ProtocolEra = 'modern',
): Promise<ConnectedTools> {
  const contextOfRequest = typeof context === 'function' ? context : () => context;
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: 'pm-mcp-test', version: '0.0.0' });
    registerPmTools(server, contextOfRequest());
    return server;
  });
  const serve = toNodeHandler(handler);
  const http = createServer((req, res) => void serve(req, res));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const client = await connectEraClient(`http://127.0.0.1:${port}`, era);
  const transcript: string[] = [];
  return {
    client,
    transcript,
    async call<S>(name: string, args: Record<string, unknown> = {}): Promise<ToolCallOutcome<S>> {
      const result = await client.callTool({ name, arguments: args });
      const content = (result.content ?? []) as { type: string; text?: string }[];
      const text = content.map((item) => item.text ?? '').join('\n');
      transcript.push(text, JSON.stringify(result.structuredContent ?? {}));
      return {
        text,
        structured: (result.structuredContent ?? {}) as S,
        isError: result.isError === true,
      };
    },
    async close() {
      await client.close();
      await handler.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A provider case of the tool suites: which fake to start and how to connect to it, per era. */
export interface FakeProviderCase<F extends { url: string; stop(): Promise<void> }> {
  type: ProviderType;
  label: string;
  start(): Promise<F>;
  email?: string;
  token: string;
  era: ProtocolEra;
}

export interface ToolsOverFake<F> {
  fake: F;
  connection: ToolConnection;
  tools: ConnectedTools;
}

/** Starts the case's fake, makes one connection to it, and connects the tools in its era. */
export async function openToolsOverFake<F extends { url: string; stop(): Promise<void> }>(
  providerCase: FakeProviderCase<F>,
): Promise<ToolsOverFake<F>> {
  const fake = await providerCase.start();
  const connection = toolConnection({
    providerType: providerCase.type,
    name: `Team ${providerCase.label}`,
    baseUrl: fake.url,
    ...(providerCase.email ? { email: providerCase.email } : {}),
    apiToken: providerCase.token,
  });
  const tools = await connectTools(contextOver([connection]), providerCase.era);
  return { fake, connection, tools };
}

/** Checks that no answer ever showed the provider token, then stops everything. */
export async function closeToolsOverFake<F extends { stop(): Promise<void> }>(
  opened: ToolsOverFake<F>,
  token: string,
): Promise<void> {
  expect(opened.tools.transcript.join('\n')).not.toContain(token);
  await opened.tools.close();
  await opened.fake.stop();
}

/**
 * One connection to each fake kind — "Cloud" and "DC" as the Jira fakes' first user, "OP" as the
 * OpenProject fake's — each with that user's own token, so a token reaching the wrong fake is seen.
 */
export function connectionsToEachFake(
  urls: { cloud: string; dataCenter: string; openProject: string },
  users: { jira: { email: string; token: string }; openProject: { token: string } },
): ToolConnection[] {
  return [
    toolConnection({
      providerType: 'jira',
      name: 'Cloud',
      baseUrl: urls.cloud,
      email: users.jira.email,
      apiToken: users.jira.token,
    }),
    toolConnection({
      providerType: 'jira_server',
      name: 'DC',
      baseUrl: urls.dataCenter,
      apiToken: users.jira.token,
    }),
    toolConnection({
      providerType: 'openproject',
      name: 'OP',
      baseUrl: urls.openProject,
      apiToken: users.openProject.token,
    }),
  ];
}
