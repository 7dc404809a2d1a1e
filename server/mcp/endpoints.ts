import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../auth/authenticate.js';
import type { Logger } from '../log.js';
import { principalOf } from '../http/http.js';
import type { McpSession, SessionRegistry } from './sessions.js';

/** Builds the MCP server a new session talks to, with the tools this caller may use. */
export type McpServerFactory = (principal: Principal) => McpServer;

export interface McpEndpointDeps {
  sessions: SessionRegistry;
  createServer: McpServerFactory;
  logger: Logger;
  /** Interval of SSE keep-alive comments on idle streams. */
  keepAliveMs?: number;
}

/** ≥128 bits, URL-safe: session ids must not be guessable (they are never authentication). */
const newSessionId = (): string => randomBytes(24).toString('base64url');

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

const sessionNotFound = (res: Response): void =>
  jsonRpcError(res, 404, -32001, 'Session not found; initialize a new session');

function headerOf(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * `/mcp` (Streamable HTTP) and the legacy `/sse` + `/messages`. The router is mounted behind
 * authentication, so every request carries a fresh `Principal`.
 */
export function mcpRoutes(deps: McpEndpointDeps): Router {
  const { sessions, createServer, logger } = deps;
  const router = Router();

  async function handleStreamable(req: Request, res: Response): Promise<void> {
    const principal = principalOf(res);
    const sessionId = headerOf(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const session = sessions.find(sessionId, 'streamable', principal);
      if (!session) {
        sessionNotFound(res);
        return;
      }
      await session.handle(req, res);
      return;
    }
    if (req.method !== 'POST') {
      // Without a session there is no stream to open: 405 (not 400, which makes Cursor retry forever).
      res.setHeader('Allow', 'POST');
      jsonRpcError(
        res,
        405,
        -32000,
        'Method not allowed without an Mcp-Session-Id; POST an initialize request',
      );
      return;
    }
    if (!isInitializeRequest(req.body)) {
      jsonRpcError(res, 400, -32000, 'No Mcp-Session-Id: the first request must be initialize');
      return;
    }
    const server = createServer(principal);
    let session: McpSession | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: newSessionId,
      enableJsonResponse: true,
      ...(deps.keepAliveMs ? { keepAliveMs: deps.keepAliveMs } : {}),
      onsessioninitialized: (id) => {
        session = {
          id,
          transport: 'streamable',
          userId: principal.userId,
          keyId: principal.keyId,
          handle: (request, response) => transport.handleRequest(request, response, request.body),
          close: () => server.close(),
        };
        sessions.add(session);
      },
    });
    transport.onclose = () => {
      if (session) sessions.remove(session.id);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  }

  router.post('/mcp', handleStreamable);
  router.get('/mcp', handleStreamable);
  router.delete('/mcp', handleStreamable);

  router.get('/sse', async (req, res) => {
    const principal = principalOf(res);
    // Clients that cannot set headers authenticate with ?api_key=; their message URL needs it too.
    const queryKey = new URL(req.originalUrl, 'http://localhost').searchParams.get('api_key');
    const endpoint =
      queryKey !== null && principal.method === 'api_key'
        ? `/messages?api_key=${encodeURIComponent(queryKey)}`
        : '/messages';
    // The legacy transport is deprecated in the SDK but is what the original guide configures.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    const transport = new SSEServerTransport(endpoint, res);
    const server = createServer(principal);
    sessions.add({
      id: transport.sessionId,
      transport: 'sse',
      userId: principal.userId,
      keyId: principal.keyId,
      handle: (request, response) => transport.handlePostMessage(request, response, request.body),
      close: () => server.close(),
    } satisfies McpSession);
    const keepAlive = setInterval(() => {
      if (!res.writableEnded) res.write(': keep-alive\n\n');
    }, deps.keepAliveMs ?? 25_000);
    keepAlive.unref();
    res.on('close', () => {
      clearInterval(keepAlive);
      sessions.remove(transport.sessionId);
      void server
        .close()
        .catch((error: unknown) => logger.debug({ err: error }, 'closing SSE session failed'));
    });
    await server.connect(transport);
  });

  router.post('/messages', async (req, res) => {
    const principal = principalOf(res);
    const sessionId = typeof req.query.sessionId === 'string' ? req.query.sessionId : '';
    const session = sessions.find(sessionId, 'sse', principal);
    if (!session) {
      sessionNotFound(res);
      return;
    }
    await session.handle(req, res);
  });

  return router;
}
