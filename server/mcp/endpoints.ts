import type { IncomingMessage } from 'node:http';
import { Router, type Request, type Response } from 'express';
import {
  createMcpHandler,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResponse,
  type AuthInfo,
  type JSONRPCMessage,
  type McpServer,
} from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import type { Principal } from '../auth/authenticate.js';
import type { Logger } from '../log.js';
import { principalOf } from '../http/http.js';
import type { SseStreams } from './sse-streams.js';

/** Builds the MCP server that answers one request (or one SSE stream) with this caller's tools. */
export type McpServerFactory = (principal: Principal) => McpServer;

export interface McpEndpointDeps {
  sseStreams: SseStreams;
  createServer: McpServerFactory;
  /** The effective expiry of the key that authenticated a request (SSE streams close then). */
  keyExpiry: (principal: Principal) => Date | null;
  logger: Logger;
}

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/** The principal rides through the SDK as `authInfo.extra`; nothing secret is put in it. */
function authInfoOf(principal: Principal): AuthInfo {
  return {
    token: '',
    clientId: principal.keyId ?? `user:${principal.userId}`,
    scopes: [principal.scope],
    extra: { principal },
  };
}

function principalFrom(authInfo: AuthInfo | undefined): Principal {
  const principal = authInfo?.extra?.principal as Principal | undefined;
  // The route authenticates before the SDK sees the request: this cannot be missing.
  if (!principal) throw new Error('MCP request reached the SDK without a principal');
  return principal;
}

const isMessage = (value: unknown): value is JSONRPCMessage =>
  isJSONRPCRequest(value) || isJSONRPCNotification(value) || isJSONRPCResponse(value);

/**
 * `/mcp` (Streamable HTTP, stateless) and the legacy `/sse` + `/messages`.
 *
 * `/mcp` is SDK v2's `createMcpHandler`: 2026-07-28 requests are served per request, and
 * 2025-era requests (the `initialize` handshake included) by its stateless fallback; each gets a
 * fresh `McpServer` from the same factory, so no instance keeps anything of a client between
 * requests. `/mcp` and `/sse` are mounted behind authentication; `/messages` authenticates a
 * credential when one is sent, and is otherwise authorised by the stream id alone.
 */
export function mcpRoutes(deps: McpEndpointDeps): Router {
  const { sseStreams, createServer, logger } = deps;
  const router = Router();

  const mcpHandler = createMcpHandler(({ authInfo }) => createServer(principalFrom(authInfo)), {
    onerror: (error) => logger.debug({ err: error }, 'MCP request rejected'),
  });
  const serveMcp = toNodeHandler(mcpHandler, {
    onerror: (error) => logger.error({ err: error }, 'MCP handler failed'),
  });

  router.all('/mcp', async (req, res) => {
    (req as IncomingMessage & { auth?: AuthInfo }).auth = authInfoOf(principalOf(res));
    await serveMcp(req, res);
  });

  router.get('/sse', async (req, res) => {
    const principal = principalOf(res);
    await sseStreams.open(principal, res, deps.keyExpiry(principal));
  });

  router.post('/messages', async (req: Request, res: Response) => {
    const principal = (res.locals as { principal?: Principal }).principal;
    const sessionId = typeof req.query.sessionId === 'string' ? req.query.sessionId : '';
    const body: unknown = req.body;
    if (!isMessage(body)) {
      jsonRpcError(res, 400, -32600, 'Invalid request: the body must be one JSON-RPC message');
      return;
    }
    if (sessionId === '' || !(await sseStreams.post(sessionId, principal, body))) {
      jsonRpcError(res, 404, -32001, 'Session not found; open a new SSE stream');
      return;
    }
    res.status(202).end('Accepted');
  });

  return router;
}
