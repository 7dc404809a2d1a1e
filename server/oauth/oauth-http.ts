import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type Provider from 'oidc-provider';
import type { AccountService } from '../auth/accounts.js';
import type { Authenticator, Principal } from '../auth/authenticate.js';
import type { ConnectionService } from '../connections/connections.js';
import type { Db } from '../db/database.js';
import { changedLimits } from '../keys/routes.js';
import { AppError, isAppError } from '../errors.js';
import { pathId, presentsCredential, principalOf, requireSession } from '../http/http.js';
import type { Logger } from '../log.js';
import { SsoRefusal, type SsoService } from '../sso/sso.js';
import { purgeExpired } from './adapter.js';
import { createAuthorizationServer } from './authorization-server.js';
import { browserSessionRoute } from './browser-session.js';
import type { GrantService } from './grants.js';
import { interactionRoutes, type LoginOptions } from './interactions.js';
import { errorPageBody, sendPage, stylesheet, stylesheetPath } from './pages.js';
import { ProtectedResource } from './resource.js';

/** The first-party native client (the desktop app, `pm-mcp login --web`). */
export const desktopClientId = 'pm-mcp-desktop';

export interface OAuthServerOptions {
  publicUrl: string;
  db: Db;
  secretKey: Buffer;
  accounts: AccountService;
  grants: GrantService;
  logger: Logger;
  now: () => Date;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  login: LoginOptions;
  sso: SsoService | null;
}

export interface OAuthServer {
  readonly provider: Provider;
  readonly resource: ProtectedResource;
  /** Where the desktop app's short-lived token is exchanged for a session (its audience). */
  readonly sessionResource: string;
  /** `POST /api/auth/browser-session`: that exchange (browser-session.ts). */
  readonly browserSession: RequestHandler;
  /** Metadata, the authorization server's endpoints, login and consent pages. */
  readonly router: Router;
  start(): void;
  stop(): void;
}

const maxRegistrationBytes = 16 * 1024;

/** Builds the authorization server and the protected resource for `/mcp` (SPEC §3.10). */
export function createOAuthServer(options: OAuthServerOptions): OAuthServer {
  const { publicUrl, logger } = options;
  const resourceUrl = `${publicUrl}/mcp`;
  const sessionResource = `${publicUrl}/api/auth/browser-session`;
  const provider = createAuthorizationServer({
    publicUrl,
    resourceUrl,
    db: options.db,
    secretKey: options.secretKey,
    logger,
    now: options.now,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    refreshTokenTtlDays: options.refreshTokenTtlDays,
    desktop: { clientId: desktopClientId, resource: sessionResource },
  });
  const resource = new ProtectedResource({ publicUrl, provider, grants: options.grants });
  const providerCallback = provider.callback();

  const router = Router();
  const protectedResourceMetadata: RequestHandler = (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(resource.metadata());
  };
  router.get('/.well-known/oauth-protected-resource', protectedResourceMetadata);
  router.get('/.well-known/oauth-protected-resource/mcp', protectedResourceMetadata);
  // RFC 8414 metadata is the provider's discovery document (same issuer, same endpoints).
  router.get(
    ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'],
    (req, res) => {
      req.url = '/.well-known/openid-configuration';
      void providerCallback(req, res);
    },
  );
  router.get(stylesheetPath, (_req, res) => {
    res
      .type('text/css')
      .set('Cache-Control', 'public, max-age=3600')
      .set('X-Content-Type-Options', 'nosniff')
      .send(stylesheet);
  });
  router.use(
    '/oauth/interaction',
    interactionRoutes({
      provider,
      accounts: options.accounts,
      grants: options.grants,
      logger,
      login: options.login,
      desktopClientId,
      sso: options.sso,
    }),
  );
  const { sso } = options;
  if (sso) {
    // The identity provider's redirect: verified, then back to the interaction it belongs to
    // (whose cookie is scoped to its own path) with a one-time ticket.
    router.get('/oauth/sso/callback', async (req, res) => {
      try {
        const { uid, ticket } = await sso.callback(req, res);
        res.redirect(
          303,
          `/oauth/interaction/${encodeURIComponent(uid)}/sso-complete?ticket=${ticket}`,
        );
      } catch (error) {
        if (!(error instanceof SsoRefusal)) throw error;
        sendPage(res, 403, 'Sign-in refused', errorPageBody(error.code, error.message));
      }
    });
  }
  router.post(`/oauth/register`, (req, _res, next) => {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxRegistrationBytes) {
      throw new OAuthError(400, 'invalid_client_metadata', 'client metadata is too large');
    }
    next();
  });
  // The provider's routes carry the /oauth prefix themselves, so it is mounted at the root.
  router.use((req, res, next) => {
    if (req.path.startsWith('/oauth/')) void providerCallback(req, res);
    else next();
  });

  let purge: NodeJS.Timeout | undefined;
  return {
    provider,
    resource,
    sessionResource,
    browserSession: browserSessionRoute({
      provider,
      db: options.db,
      accounts: options.accounts,
      clientId: desktopClientId,
      resource: sessionResource,
    }),
    router,
    start() {
      purge = setInterval(() => {
        void purgeExpired(options.db, options.now()).catch((error: unknown) =>
          logger.warn({ err: error }, 'could not purge expired OAuth records'),
        );
      }, 3600_000);
      purge.unref();
    },
    stop() {
      if (purge) clearInterval(purge);
    },
  };
}

/** An RFC 6749 / 7591 error body (`{error, error_description}`), for the few checks made before the provider. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export const oauthErrorHandler = (): ErrorRequestHandler => (error: unknown, _req, res, next) => {
  if (!(error instanceof OAuthError)) {
    next(error);
    return;
  }
  res
    .status(error.status)
    .set('Cache-Control', 'no-store')
    .json({ error: error.error, error_description: error.description });
};

/**
 * Authentication for `/mcp`: keys and sessions exactly as everywhere (an invalid key keeps its
 * byte-identical 401), OAuth access tokens besides; a request that carried no credential at all
 * is answered with the RFC 9728 challenge, so an OAuth client can discover how to sign in.
 */
export function mcpAuthenticated(
  authenticator: Authenticator,
  resource: ProtectedResource | null,
): RequestHandler {
  return async (req, res, next) => {
    try {
      (res.locals as { principal?: Principal }).principal = await authenticator.authenticate(
        req,
        resource ? { oauth: resource } : {},
      );
    } catch (error) {
      if (resource && isAppError(error) && error.status === 401 && !presentsCredential(req)) {
        throw new AppError(error.code, error.message, {
          headers: { 'WWW-Authenticate': resource.challenge() },
        });
      }
      throw error;
    }
    next();
  };
}

/**
 * `/api/users/me/grants`: the MCP clients a user let in, listed, limited and revoked like keys
 * (changing or revoking needs the signed-in session).
 */
export function grantRoutes(grants: GrantService, connections: ConnectionService): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    res.json({ grants: await grants.list(principalOf(res).userId) });
  });
  router.patch('/:id', async (req, res) => {
    const id = pathId(req, 'id', 'Grant');
    const principal = requireSession(res);
    const current = await grants.policyOf(principal.userId, id);
    const policy = await changedLimits(req.body, current, connections, principal.userId);
    res.json(await grants.setPolicy(principal.userId, id, policy));
  });
  router.delete('/:id', async (req, res) => {
    const id = pathId(req, 'id', 'Grant');
    const principal = requireSession(res);
    await grants.revoke(principal.userId, id);
    res.status(204).end();
  });
  return router;
}
