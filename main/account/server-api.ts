import axios, { type AxiosInstance, type Method } from 'axios';
import { z } from 'zod';
import { providerTypes, type LimitsChange, type ProviderType } from '../../preload/contract.js';
import { DesktopError, isDesktopError } from '../errors.js';

/** How a request proves who it is: a session access token, or this machine's MCP key. */
export type ServerAuth = { kind: 'session'; accessToken: string } | { kind: 'key'; apiKey: string };

// Server responses: only the fields the desktop side uses are validated (SPEC §3.4).
const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable().optional(),
});
const sessionSchema = z.object({
  user: userSchema,
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.number().positive(),
});
// A key's or a grant's limits. Servers before key (or grant) limits do not send them: no limit.
const limitFields = {
  allowed_tools: z.array(z.string()).nullable().default(null),
  allowed_projects: z.array(z.string()).nullable().default(null),
};
const keySchema = z.object({
  id: z.string(),
  name: z.string(),
  key_prefix: z.string(),
  scope: z.enum(['read', 'write']),
  is_active: z.boolean(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  ...limitFields,
});
const createdKeySchema = z.object({
  id: z.string(),
  api_key: z.string().startsWith('mcp_'),
  name: z.string(),
  key_prefix: z.string(),
  scope: z.enum(['read', 'write']),
  created_at: z.string(),
  expires_at: z.string().nullable(),
});
const grantSchema = z.object({
  id: z.string(),
  client_id: z.string(),
  client_name: z.string(),
  scope: z.string(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  ...limitFields,
});
const providerSchema = z.object({
  id: z.string(),
  provider_type: z.enum(providerTypes),
  name: z.string(),
  base_url: z.string(),
  is_active: z.boolean(),
  created_at: z.string(),
  last_checked_at: z.string().nullable(),
  last_check_ok: z.boolean().nullable(),
  last_check_message: z.string().nullable(),
});
const providerTestSchema = z.object({
  ok: z.boolean(),
  message: z.string(),
  account: z.string().nullable().optional(),
});
const healthSchema = z.object({ status: z.string(), version: z.string().optional() });
const errorBodySchema = z.object({ error: z.string(), message: z.string() });

export type ServerUser = z.infer<typeof userSchema>;
export type ServerSession = z.infer<typeof sessionSchema>;
export type ServerKey = z.infer<typeof keySchema>;
export type CreatedServerKey = z.infer<typeof createdKeySchema>;
export type ServerGrant = z.infer<typeof grantSchema>;
export type ServerProvider = z.infer<typeof providerSchema>;
export type ServerProviderTest = z.infer<typeof providerTestSchema>;

export interface NewProvider {
  providerType: ProviderType;
  name: string;
  baseUrl: string;
  email?: string;
  apiToken: string;
}

export interface ServerApi {
  readonly baseUrl: string;
  health(): Promise<{ status: string; version?: string | undefined }>;
  register(input: { email: string; password: string; name?: string }): Promise<ServerSession>;
  login(input: { email: string; password: string }): Promise<ServerSession>;
  /** The last step of the browser sign-in: the single-use `pm:session` token for a session. */
  browserSession(sessionToken: string): Promise<ServerSession>;
  refresh(refreshToken: string): Promise<ServerSession>;
  logout(refreshToken: string): Promise<void>;
  me(auth: ServerAuth): Promise<ServerUser>;
  createKey(
    auth: ServerAuth,
    input: { name: string; expiresInDays?: number; scope?: 'read' | 'write' },
  ): Promise<CreatedServerKey>;
  listKeys(auth: ServerAuth): Promise<ServerKey[]>;
  revokeKey(auth: ServerAuth, id: string): Promise<void>;
  /** PATCH a key's limits (a session only): list sets, null lifts, absent keeps. */
  setKeyLimits(auth: ServerAuth, id: string, limits: LimitsChange): Promise<ServerKey>;
  rotateKey(auth: ServerAuth, id: string): Promise<CreatedServerKey>;
  /** The editors the user let in with OAuth (none from a server older than OAuth). */
  listGrants(auth: ServerAuth): Promise<ServerGrant[]>;
  /** Ends a grant and every token issued under it (a session only). */
  revokeGrant(auth: ServerAuth, id: string): Promise<void>;
  /** PATCH a grant's limits (a session only), with the same body as a key's. */
  setGrantLimits(auth: ServerAuth, id: string, limits: LimitsChange): Promise<ServerGrant>;
  listProviders(auth: ServerAuth): Promise<ServerProvider[]>;
  addProvider(auth: ServerAuth, input: NewProvider): Promise<ServerProvider>;
  removeProvider(auth: ServerAuth, id: string): Promise<void>;
  testProvider(auth: ServerAuth, id: string): Promise<ServerProviderTest>;
}

export interface ServerApiOptions {
  baseUrl: string;
  timeoutMs?: number;
}

/** What a 401 means depends on what was presented. */
type Purpose = 'login' | 'browser-session' | 'refresh' | 'public' | 'authenticated';

interface RequestSpec<T> {
  method: Method;
  path: string;
  purpose: Purpose;
  auth?: ServerAuth;
  body?: unknown;
  schema?: z.ZodType<T>;
}

/** The server's HTTP API (SPEC §3.4) over axios, with every failure turned into a `DesktopError`. */
export function createServerApi(options: ServerApiOptions): ServerApi {
  const baseUrl = options.baseUrl;
  const http: AxiosInstance = axios.create({
    baseURL: baseUrl,
    timeout: options.timeoutMs ?? 15_000,
    // Every status is handled here; redirects are not followed (a password must not be replayed
    // to wherever a redirect points).
    validateStatus: () => true,
    maxRedirects: 0,
    headers: { Accept: 'application/json' },
    responseType: 'json',
  });

  async function request<T>(spec: RequestSpec<T>): Promise<T> {
    const headers: Record<string, string> = {};
    if (spec.auth?.kind === 'session') headers.Authorization = `Bearer ${spec.auth.accessToken}`;
    if (spec.auth?.kind === 'key') headers['X-MCP-API-Key'] = spec.auth.apiKey;
    let response;
    try {
      response = await http.request<unknown>({
        method: spec.method,
        url: spec.path,
        headers,
        data: spec.body,
      });
    } catch (error) {
      // The axios error carries the request config (headers with credentials): never chain it.
      throw new DesktopError(
        'server_unreachable',
        `Cannot reach the PM MCP server at ${baseUrl} (${networkReason(error)})`,
      );
    }
    const { status } = response;
    if (status >= 200 && status < 300) {
      if (!spec.schema) return undefined as T;
      const parsed = spec.schema.safeParse(response.data);
      if (!parsed.success) {
        throw new DesktopError(
          'server_error',
          `${baseUrl} answered ${spec.method.toUpperCase()} ${spec.path} with something that is ` +
            'not a PM MCP server response; check the server URL',
        );
      }
      return parsed.data;
    }
    throw errorFor(status, response.data, response.headers['retry-after'], spec);
  }

  function errorFor(
    status: number,
    data: unknown,
    retryAfter: unknown,
    spec: RequestSpec<unknown>,
  ): DesktopError {
    const body = errorBodySchema.safeParse(data);
    const serverMessage = body.success ? body.data.message : undefined;
    const serverCode = body.success ? body.data.error : undefined;
    if (status >= 300 && status < 400) {
      return new DesktopError(
        'server_error',
        `${baseUrl} answered with a redirect (${status}); use the server's final https:// URL`,
      );
    }
    if (status === 401) {
      if (spec.purpose === 'login') {
        return new DesktopError(
          'invalid_credentials',
          serverMessage ?? 'Invalid email or password',
        );
      }
      if (spec.purpose === 'browser-session') {
        return new DesktopError(
          'browser_sign_in_failed',
          `${baseUrl} refused the browser sign-in: ${serverMessage ?? 'the sign-in token was refused'}`,
        );
      }
      if (spec.purpose === 'refresh') {
        return new DesktopError(
          'not_signed_in',
          `Your session on ${baseUrl} has ended; sign in again (pm-mcp login)`,
        );
      }
      if (spec.auth?.kind === 'key') {
        return new DesktopError(
          'key_rejected',
          `The server ${baseUrl} rejected this machine's MCP key (revoked or expired); ` +
            'mint a new one by signing in again (pm-mcp login) or from the app',
        );
      }
      return new DesktopError(
        'not_signed_in',
        `Not signed in to ${baseUrl}: ${serverMessage ?? 'the session was refused'}`,
      );
    }
    if (status === 403 && serverCode === 'forbidden' && spec.path.startsWith('/api/auth/')) {
      return new DesktopError(
        'password_login_disabled',
        `${baseUrl} has turned passwords off: sign in through your browser (pm-mcp login --web, ` +
          'or "Sign in with your browser" in the app)',
      );
    }
    if (status === 404) {
      return new DesktopError('not_found', serverMessage ?? `Not found on ${baseUrl}`);
    }
    if (status === 429) {
      const wait = typeof retryAfter === 'string' ? ` (retry after ${retryAfter} s)` : '';
      return new DesktopError('request_refused', `${serverMessage ?? 'Too many requests'}${wait}`);
    }
    if (status >= 400 && status < 500) {
      return new DesktopError(
        'request_refused',
        serverMessage ?? `${baseUrl} refused the request (${status})`,
      );
    }
    const what = serverCode === 'provider_error' || serverCode === 'provider_unavailable';
    return new DesktopError(
      'server_error',
      what && serverMessage
        ? serverMessage
        : `The PM MCP server at ${baseUrl} failed (${status}${serverMessage ? `: ${serverMessage}` : ''})`,
    );
  }

  const session = sessionSchema;
  return {
    baseUrl,
    health: () =>
      request({ method: 'GET', path: '/health', purpose: 'public', schema: healthSchema }),
    register: (input) =>
      request({
        method: 'POST',
        path: '/api/auth/register',
        purpose: 'public',
        body: input,
        schema: session,
      }),
    login: (input) =>
      request({
        method: 'POST',
        path: '/api/auth/login',
        purpose: 'login',
        body: input,
        schema: session,
      }),
    browserSession: (sessionToken) =>
      request({
        method: 'POST',
        path: '/api/auth/browser-session',
        purpose: 'browser-session',
        auth: { kind: 'session', accessToken: sessionToken },
        schema: session,
      }),
    refresh: (refreshToken) =>
      request({
        method: 'POST',
        path: '/api/auth/refresh',
        purpose: 'refresh',
        body: { refresh_token: refreshToken },
        schema: session,
      }),
    logout: (refreshToken) =>
      request({
        method: 'POST',
        path: '/api/auth/logout',
        purpose: 'refresh',
        body: { refresh_token: refreshToken },
      }),
    me: (auth) =>
      request({
        method: 'GET',
        path: '/api/users/me',
        purpose: 'authenticated',
        auth,
        schema: userSchema,
      }),
    createKey: (auth, input) =>
      request({
        method: 'POST',
        path: '/api/users/me/mcp-keys',
        purpose: 'authenticated',
        auth,
        body: {
          name: input.name,
          ...(input.expiresInDays !== undefined ? { expires_in_days: input.expiresInDays } : {}),
          ...(input.scope ? { scope: input.scope } : {}),
        },
        schema: createdKeySchema,
      }),
    listKeys: async (auth) =>
      (
        await request({
          method: 'GET',
          path: '/api/users/me/mcp-keys',
          purpose: 'authenticated',
          auth,
          schema: z.object({ keys: z.array(keySchema) }),
        })
      ).keys,
    revokeKey: (auth, id) =>
      request({
        method: 'DELETE',
        path: `/api/users/me/mcp-keys/${encodeURIComponent(id)}`,
        purpose: 'authenticated',
        auth,
      }),
    setKeyLimits: (auth, id, limits) =>
      request({
        method: 'PATCH',
        path: `/api/users/me/mcp-keys/${encodeURIComponent(id)}`,
        purpose: 'authenticated',
        auth,
        body: limitsBody(limits),
        schema: keySchema,
      }),
    rotateKey: (auth, id) =>
      request({
        method: 'POST',
        path: `/api/users/me/mcp-keys/${encodeURIComponent(id)}/rotate`,
        purpose: 'authenticated',
        auth,
        schema: createdKeySchema,
      }),
    async listGrants(auth) {
      try {
        const listed = await request({
          method: 'GET',
          path: '/api/users/me/grants',
          purpose: 'authenticated',
          auth,
          schema: z.object({ grants: z.array(grantSchema) }),
        });
        return listed.grants;
      } catch (error) {
        // A server from before OAuth has no such endpoint, and so no grants.
        if (isDesktopError(error) && error.code === 'not_found') return [];
        throw error;
      }
    },
    revokeGrant: (auth, id) =>
      request({
        method: 'DELETE',
        path: `/api/users/me/grants/${encodeURIComponent(id)}`,
        purpose: 'authenticated',
        auth,
      }),
    setGrantLimits: (auth, id, limits) =>
      request({
        method: 'PATCH',
        path: `/api/users/me/grants/${encodeURIComponent(id)}`,
        purpose: 'authenticated',
        auth,
        body: limitsBody(limits),
        schema: grantSchema,
      }),
    listProviders: async (auth) =>
      (
        await request({
          method: 'GET',
          path: '/api/users/me/providers',
          purpose: 'authenticated',
          auth,
          schema: z.object({ providers: z.array(providerSchema) }),
        })
      ).providers,
    addProvider: async (auth, input) =>
      (
        await request({
          method: 'POST',
          path: '/api/users/me/providers',
          purpose: 'authenticated',
          auth,
          body: {
            provider_type: input.providerType,
            name: input.name,
            base_url: input.baseUrl,
            ...(input.email !== undefined ? { email: input.email } : {}),
            api_token: input.apiToken,
          },
          schema: z.object({ provider: providerSchema }),
        })
      ).provider,
    removeProvider: (auth, id) =>
      request({
        method: 'DELETE',
        path: `/api/users/me/providers/${encodeURIComponent(id)}`,
        purpose: 'authenticated',
        auth,
      }),
    testProvider: (auth, id) =>
      request({
        method: 'POST',
        path: `/api/users/me/providers/${encodeURIComponent(id)}/test`,
        purpose: 'authenticated',
        auth,
        schema: providerTestSchema,
      }),
  };
}

/** The PATCH body of a key's or a grant's limits: list sets, null lifts, absent keeps. */
function limitsBody(limits: LimitsChange): Record<string, string[] | null> {
  return {
    ...(limits.allowedTools !== undefined ? { allowed_tools: limits.allowedTools } : {}),
    ...(limits.allowedProjects !== undefined ? { allowed_projects: limits.allowedProjects } : {}),
  };
}

function networkReason(error: unknown): string {
  if (axios.isAxiosError(error)) {
    switch (error.code) {
      case 'ECONNREFUSED':
        return 'connection refused: is the server running?';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'unknown host name';
      case 'ECONNABORTED':
      case 'ETIMEDOUT':
        return 'no answer in time';
      case 'ECONNRESET':
        return 'the connection was reset';
      case 'ERR_INVALID_URL':
        return 'invalid URL';
      default:
        if (error.code?.startsWith('ERR_TLS') || error.code?.includes('CERT')) {
          return `TLS certificate problem: ${error.code}`;
        }
        return error.code ?? 'network error';
    }
  }
  return 'network error';
}
