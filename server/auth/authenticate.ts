import type { IncomingMessage } from 'node:http';
import { recordAudit } from '../audit.js';
import type { Db } from '../db/database.js';
import { isUuid } from '../db/schema.js';
import { AppError } from '../errors.js';
import { displayPrefixOf, isWellFormedApiKey, looksLikeApiKey } from '../keys/key-format.js';
import type { KeyAuthenticator } from '../keys/key-cache.js';
import type { KeyScope } from '../keys/keys.js';
import type { KeyPolicy } from '../keys/policy.js';
import type { AttemptLimiter } from './failure-limiter.js';
import { invalidAccessToken, type AccessTokens } from './session-tokens.js';

export type AuthMethod = 'api_key' | 'user_id' | 'session' | 'oauth';

/** Who is calling: resolved on every request, on every transport. */
export interface Principal {
  userId: string;
  method: AuthMethod;
  /** The MCP key that authenticated the request, when one did. */
  keyId: string | null;
  /** The OAuth grant (`oauth_grants.id`) whose access token authenticated the request. */
  grantId?: string;
  /** Session tokens and `X-User-ID` act with full (write) scope; OAuth tokens by their scopes. */
  scope: KeyScope;
  /** When the key that authenticated the request expires (null: never, or not a key). */
  expiresAt?: string | null;
  /** The key's tool and project limits; absent: none (sessions, `X-User-ID`). */
  policy?: KeyPolicy;
}

/** One response for malformed, unknown, inactive, revoked and expired keys alike. */
export const invalidApiKeyError = (): AppError =>
  new AppError('invalid_api_key', 'Invalid API key', { headers: { 'WWW-Authenticate': 'Bearer' } });

export interface AuthenticatorDeps {
  db: Db;
  keys: KeyAuthenticator;
  accessTokens: AccessTokens;
  allowUserIdAuth: boolean;
  /** Failed authentications per client address and per key prefix. */
  failures: AttemptLimiter;
  now: () => Date;
}

/** Verifies OAuth access tokens for the MCP endpoint (server/oauth/resource.ts). */
export interface OAuthTokenVerifier {
  authenticate(token: string): Promise<Principal>;
}

export interface AuthenticateOptions {
  /**
   * Accept OAuth access tokens (only on the resource they are issued for, `/mcp`). Opaque tokens
   * carry no dot, so a session JWT is still told apart.
   */
  oauth?: OAuthTokenVerifier;
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function queryParameters(request: IncomingMessage): URLSearchParams {
  const url = request.url ?? '/';
  const start = url.indexOf('?');
  return new URLSearchParams(start === -1 ? '' : url.slice(start + 1));
}

/** Whether a request carries any credential at all: one with none guessed nothing, and is no attempt. */
export function presentsCredential(request: IncomingMessage): boolean {
  const { headers } = request;
  if (headers['x-mcp-api-key'] !== undefined || headers.authorization !== undefined) return true;
  if (headers['x-user-id'] !== undefined) return true;
  const query = queryParameters(request);
  return query.has('api_key') || query.has('user_id');
}

/**
 * The client's address: Express's `req.ip`, which honours `X-Forwarded-For` only from the
 * proxies `PM_MCP_TRUST_PROXY` trusts (the socket's peer otherwise).
 */
export function clientAddress(request: IncomingMessage & { ip?: string | undefined }): string {
  return request.ip ?? request.socket.remoteAddress ?? 'unknown';
}

/** The key a request presents, by the same priority as `#resolve` (for the limiter's subjects). */
function presentedKey(request: IncomingMessage): string | undefined {
  const headerKey = headerValue(request, 'x-mcp-api-key');
  if (headerKey !== undefined) return headerKey.trim();
  const bearer = headerValue(request, 'authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (bearer !== undefined && looksLikeApiKey(bearer)) return bearer;
  return queryParameters(request).get('api_key')?.trim();
}

/**
 * Resolves the caller from the first credential present, in the priority of SPEC §3.5. The first
 * credential decides: an invalid key is a 401 and never falls through to a weaker method.
 *
 * The credential is resolved first: a valid one is never refused by the limiter, and a request
 * without any credential is no attempt (it is answered 401, never 429). A failure is counted per client address and, for a well-formed key, per key prefix; once one of them is
 * over the limit, failures get 429 with `Retry-After` instead of 401. (Keys and access tokens
 * carry 256 bits: answering a valid one is no oracle worth guarding.)
 */
export class Authenticator {
  readonly #deps: AuthenticatorDeps;

  constructor(deps: AuthenticatorDeps) {
    this.#deps = deps;
  }

  async authenticate(
    request: IncomingMessage & { ip?: string | undefined },
    options: AuthenticateOptions = {},
  ): Promise<Principal> {
    try {
      return await this.#resolve(request, options);
    } catch (error) {
      if (!(error instanceof AppError && error.status === 401)) throw error;
      // Nothing was guessed (an OAuth client discovering how to sign in asks exactly so).
      if (!presentsCredential(request)) throw error;
      const address = clientAddress(request);
      const subjects = [`address:${address}`];
      const key = presentedKey(request);
      if (key !== undefined && isWellFormedApiKey(key))
        subjects.push(`key:${displayPrefixOf(key)}`);
      const retryAfter = await this.#deps.failures.count(subjects);
      if (retryAfter > 0) {
        // Past the limit a flood is refused without filling the audit log.
        throw new AppError(
          'too_many_requests',
          'Too many failed authentication attempts; try again later',
          { headers: { 'Retry-After': String(retryAfter) } },
        );
      }
      void recordAudit(
        this.#deps.db,
        { event: 'auth.failed', ip: address, detail: error.code },
        this.#deps.now(),
      ).catch(() => undefined);
      throw error;
    }
  }

  async #resolve(request: IncomingMessage, options: AuthenticateOptions): Promise<Principal> {
    const authorization = headerValue(request, 'authorization');
    const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const query = queryParameters(request);

    const headerKey = headerValue(request, 'x-mcp-api-key');
    if (headerKey !== undefined) return this.#byKey(headerKey.trim());
    if (bearer !== undefined && looksLikeApiKey(bearer)) return this.#byKey(bearer);
    const queryKey = query.get('api_key');
    if (queryKey !== null) return this.#byKey(queryKey.trim());

    const userId = headerValue(request, 'x-user-id') ?? query.get('user_id') ?? undefined;
    if (userId !== undefined) return this.#byUserId(userId.trim());

    if (bearer !== undefined && options.oauth && !bearer.includes('.')) {
      return options.oauth.authenticate(bearer);
    }
    if (bearer !== undefined) return this.#bySession(bearer);
    if (authorization !== undefined) {
      throw new AppError('unauthorized', 'Unsupported Authorization scheme; use Bearer', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    throw new AppError(
      'unauthorized',
      'Authentication required: send X-MCP-API-Key or Authorization: Bearer',
      {
        headers: { 'WWW-Authenticate': 'Bearer' },
      },
    );
  }

  async #byKey(candidate: string): Promise<Principal> {
    const key = await this.#deps.keys.authenticate(candidate);
    if (!key) throw invalidApiKeyError();
    return {
      userId: key.userId,
      method: 'api_key',
      keyId: key.id,
      scope: key.scope,
      policy: key.policy,
      expiresAt: key.expiresAt,
    };
  }

  /** A valid JWT whose sign-in ended (logout, refresh-token reuse) is refused at once. */
  async #bySession(token: string): Promise<Principal> {
    const { userId, familyId } = await this.#deps.accessTokens.verify(token);
    const live = await this.#deps.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('family_id', '=', familyId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', this.#deps.now().toISOString())
      .limit(1)
      .executeTakeFirst();
    if (!live) throw invalidAccessToken('Access token revoked: the session has ended');
    return { userId, method: 'session', keyId: null, scope: 'write' };
  }

  async #byUserId(userId: string): Promise<Principal> {
    const refused = new AppError(
      'user_id_auth_disabled',
      'X-User-ID authentication is disabled on this server',
      {
        headers: { 'WWW-Authenticate': 'Bearer' },
      },
    );
    if (!this.#deps.allowUserIdAuth) throw refused;
    if (!isUuid(userId)) throw new AppError('unauthorized', 'Unknown user');
    const user = await this.#deps.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user) throw new AppError('unauthorized', 'Unknown user');
    return { userId: user.id, method: 'user_id', keyId: null, scope: 'write' };
  }
}
