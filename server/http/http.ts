import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { presentsCredential, type Authenticator, type Principal } from '../auth/authenticate.js';
import { isDatabaseUnavailableError } from '../db/database.js';
import { isUuid } from '../db/schema.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../log.js';

export function sendError(res: Response, error: AppError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res
    .status(error.status)
    .set(error.headers)
    .json({ error: error.code, message: error.message, ...error.details });
}

/** Validates a JSON body; unknown fields are dropped (never an error), wrong ones name the field. */
export function parseBody<Schema extends z.ZodType>(
  schema: Schema,
  body: unknown,
): z.infer<Schema> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new AppError(
      'validation_failed',
      field
        ? `${field}: ${issue?.message ?? 'invalid'}`
        : (issue?.message ?? 'Invalid request body'),
      {
        details: {
          issues: result.error.issues.map((item) => ({
            path: item.path.join('.'),
            message: item.message,
          })),
        },
      },
    );
  }
  return result.data;
}

/** A path id that is not a UUID cannot exist: 404, exactly as a missing one. */
export function pathId(req: Request, name: string, what: string): string {
  const value = req.params[name];
  if (!isUuid(value)) throw new AppError('not_found', `${what} not found`);
  return value.toLowerCase();
}

export function principalOf(res: Response): Principal {
  const principal = (res.locals as { principal?: Principal }).principal;
  if (!principal) throw new AppError('unauthorized', 'Authentication required');
  return principal;
}

/** Authenticates every request it guards (no session or cookie ever stands in for a credential). */
export function authenticated(authenticator: Authenticator): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    (res.locals as { principal?: Principal }).principal = await authenticator.authenticate(req);
    next();
  };
}

export { presentsCredential };

/**
 * For `POST /messages`: the stream id authorises the message, but a credential that is sent is
 * checked (an invalid one is a 401; another user's is refused by the stream as unknown).
 */
export function authenticatedIfPresented(authenticator: Authenticator): RequestHandler {
  const authenticate = authenticated(authenticator);
  return (req, res, next) => {
    if (!presentsCredential(req)) {
      next();
      return;
    }
    return authenticate(req, res, next);
  };
}

/**
 * Keys in a URL end up in proxies' access logs: `?api_key=` is only for MCP clients that cannot
 * set headers, so the account API refuses it (before looking at it).
 */
export function refuseQueryKeys(): RequestHandler {
  return (req, _res, next) => {
    const query = new URL(req.originalUrl, 'http://localhost').searchParams;
    if (query.has('api_key')) {
      throw new AppError(
        'unauthorized',
        'API keys in the URL are accepted only on the MCP endpoints; send the X-MCP-API-Key header',
        { headers: { 'WWW-Authenticate': 'Bearer' } },
      );
    }
    next();
  };
}

/** Keys may read status and revoke or rotate themselves; everything else needs a signed-in session. */
export function requireSession(res: Response): Principal {
  const principal = principalOf(res);
  if (principal.method === 'api_key') {
    throw new AppError('forbidden', 'This action needs a signed-in session, not an MCP API key');
  }
  return principal;
}

/** The names a loopback-bound server answers to (any port). */
const loopbackHostNames = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether `HOST` binds the server to loopback only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** The host name of a `Host` header (lower case, IPv6 in brackets), or undefined if malformed. */
function hostNameOf(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined || hostHeader === '' || /[/?#@\s]/.test(hostHeader))
    return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return undefined;
  }
}

interface HostPolicy {
  readonly host: string;
  readonly publicUrl: string | null;
}

/**
 * DNS-rebinding protection (SPEC §3.5): a request whose `Host` is not one of the server's own
 * names gets 421. Bound to loopback, the loopback names are the server's; with
 * `PM_MCP_PUBLIC_URL`, its host name is. Bound to another address without it, any `Host` is
 * accepted (the start-up log says so). `/health` always answers on loopback names, for local
 * health checks.
 */
export function hostGuard(policy: HostPolicy): RequestHandler {
  const loopbackBound = isLoopbackHost(policy.host);
  const publicHostName = policy.publicUrl === null ? undefined : new URL(policy.publicUrl).hostname;
  const acceptsAny = !loopbackBound && publicHostName === undefined;
  return (req, res, next) => {
    if (acceptsAny) {
      next();
      return;
    }
    const name = hostNameOf(req.headers.host);
    const accepted =
      name !== undefined &&
      (name === publicHostName ||
        (loopbackHostNames.has(name) && (loopbackBound || req.path === '/health')));
    if (!accepted) {
      sendError(
        res,
        new AppError('misdirected_request', 'This server does not answer for that host name'),
      );
      return;
    }
    next();
  };
}

interface OriginPolicy extends HostPolicy {
  readonly allowedOrigins: readonly string[];
}

/**
 * Only browsers send `Origin`. The server's own origin (`PM_MCP_PUBLIC_URL`'s, or
 * `http://<Host>` when bound to loopback and `Host` is a loopback name) is a same-origin request
 * and passes; allowed origins get CORS headers; any other origin is refused with 403.
 */
export function originGuard(policy: OriginPolicy): RequestHandler {
  const allowed = new Set(policy.allowedOrigins);
  const loopbackBound = isLoopbackHost(policy.host);
  const publicOrigin = policy.publicUrl === null ? undefined : new URL(policy.publicUrl).origin;
  const isOwnOrigin = (origin: string, hostHeader: string | undefined): boolean => {
    if (origin === publicOrigin) return true;
    const name = hostNameOf(hostHeader);
    if (!loopbackBound || name === undefined || !loopbackHostNames.has(name)) return false;
    return origin === `http://${(hostHeader ?? '').toLowerCase()}`;
  };
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined || isOwnOrigin(origin, req.headers.host)) {
      next();
      return;
    }
    if (!allowed.has(origin)) {
      sendError(
        res,
        new AppError('origin_not_allowed', 'Requests from this origin are not allowed'),
      );
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', 'Mcp-Session-Id, WWW-Authenticate, Retry-After');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
      res.setHeader(
        'Access-Control-Allow-Headers',
        'Authorization, Content-Type, X-MCP-API-Key, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID',
      );
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

interface BodyParserError {
  type?: string;
  status?: number;
  message: string;
}

/** The one place errors become responses. Unknown errors are a generic 500 that leaks nothing. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (isAppError(error)) {
      sendError(res, error);
      return;
    }
    const parserError = error as BodyParserError;
    if (parserError.type === 'entity.parse.failed') {
      sendError(res, new AppError('invalid_json', `Malformed JSON body: ${parserError.message}`));
      return;
    }
    if (parserError.type === 'entity.too.large') {
      sendError(res, new AppError('payload_too_large', 'Request body is too large'));
      return;
    }
    if (parserError.type === 'encoding.unsupported' || parserError.type === 'charset.unsupported') {
      sendError(res, new AppError('unsupported_media_type', parserError.message));
      return;
    }
    if (isDatabaseUnavailableError(error)) {
      logger.error({ err: error, path: req.path }, 'database unavailable');
      sendError(
        res,
        new AppError('database_unavailable', 'The database is unavailable; try again shortly'),
      );
      return;
    }
    logger.error({ err: error, path: req.path }, 'unhandled error');
    sendError(res, new AppError('internal_error', 'Internal server error'));
  };
}
