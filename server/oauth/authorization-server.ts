import { createPrivateKey, hkdfSync } from 'node:crypto';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { findUserById } from '../auth/accounts.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';
import { createDatabaseAdapterFactory } from './adapter.js';
import { errorPageBody, pageSecurityHeaders, renderPage } from './pages.js';

/** The two scopes a grant may carry; `pm:write` implies reading (SPEC §3.10). */
export const resourceScopes = ['pm:read', 'pm:write'] as const;

/** Where the authorization server's endpoints live (all under `/oauth`, metadata at the root). */
export const oauthRoutes = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  jwks: '/oauth/jwks',
  userinfo: '/oauth/userinfo',
  introspection: '/oauth/introspect',
  end_session: '/oauth/logout',
  pushed_authorization_request: '/oauth/par',
  code_verification: '/oauth/device',
  device_authorization: '/oauth/device/auth',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
} as const;

export interface AuthorizationServerOptions {
  /** `PM_MCP_PUBLIC_URL`: the issuer. */
  publicUrl: string;
  /** The protected resource's identifier (RFC 8707 audience): `<public URL>/mcp`. */
  resourceUrl: string;
  db: Db;
  secretKey: Buffer;
  logger: Logger;
  now: () => Date;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  /** The first-party native client (the desktop app and `pm-mcp login --web`) and its resource. */
  desktop: { clientId: string; resource: string };
}

function derive(secretKey: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), `pm-mcp ${label}`, 32));
}

/**
 * An Ed25519 signing key derived from the server secret, so every instance signs with the same
 * key without another secret to distribute (only ID tokens and JWKS use it; access tokens are
 * opaque and looked up in the database).
 */
function signingJwk(secretKey: Buffer) {
  const seed = derive(secretKey, 'oauth signing key');
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const jwk = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    format: 'jwk',
  });
  return { ...jwk, kid: 'pm-mcp-ed25519', alg: 'EdDSA', use: 'sig' };
}

/**
 * The OAuth 2.1 authorization server: `oidc-provider` (certified OpenID provider, also a plain
 * OAuth server) configured for MCP clients — authorization code with PKCE S256 only, dynamic
 * registration and Client ID Metadata Documents, resource indicators giving access tokens bound
 * to `/mcp`, rotating refresh tokens, opaque tokens in our database. Login and consent are our
 * pages (`interactions.ts`).
 */
export function createAuthorizationServer(options: AuthorizationServerOptions): Provider {
  const { publicUrl, resourceUrl, db, logger } = options;
  const resourceScope = resourceScopes.join(' ');

  const configuration: Configuration = {
    adapter: createDatabaseAdapterFactory(db, options.now),
    clients: [
      {
        client_id: options.desktop.clientId,
        client_name: 'PM MCP desktop app',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        // RFC 8252 §7.3: any port is accepted on the loopback address.
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    async findAccount(_ctx, id) {
      const user = await findUserById(db, id);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: () => ({
          sub: user.id,
          email: user.email,
          ...(user.name ? { name: user.name } : {}),
        }),
      };
    },
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    scopes: ['openid', 'offline_access', ...resourceScopes],
    cookies: {
      keys: [derive(options.secretKey, 'oauth cookies').toString('base64url')],
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    jwks: { keys: [signingJwk(options.secretKey)] },
    enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'EdDSA',
      token_endpoint_auth_method: 'none',
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // The resource server checks bearer tokens only; a DPoP-bound token must not be issued.
      dPoP: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
      resourceIndicators: {
        enabled: true,
        // A client that names no resource still gets a token bound to ours.
        defaultResource: () => resourceUrl,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator, client) {
          const isDesktop = client.clientId === options.desktop.clientId;
          if (isDesktop && resourceIndicator === options.desktop.resource) {
            return {
              scope: 'pm:session',
              audience: options.desktop.resource,
              accessTokenFormat: 'opaque',
              accessTokenTTL: 120,
            };
          }
          if (resourceIndicator !== resourceUrl) {
            throw new errors.InvalidTarget(`tokens are issued only for ${resourceUrl}`);
          }
          return {
            scope: resourceScope,
            audience: resourceUrl,
            accessTokenFormat: 'opaque',
            accessTokenTTL: options.accessTokenTtlSeconds,
          };
        },
      },
    },
    // Every refresh returns a new refresh token; reusing the old one is refused.
    rotateRefreshToken: true,
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 30 * 60,
      Session: 14 * 24 * 3600,
      Grant: options.refreshTokenTtlDays * 24 * 3600,
      RefreshToken: options.refreshTokenTtlDays * 24 * 3600,
      ClientCredentials: 600,
      IdToken: 3600,
    },
    interactions: { url: (_ctx, interaction) => `/oauth/interaction/${interaction.uid}` },
    routes: oauthRoutes,
    renderError(ctx: KoaContextWithOIDC, out, error) {
      if (!(error instanceof errors.OIDCProviderError)) {
        logger.error({ err: error }, 'authorization server error');
      }
      for (const [name, value] of Object.entries(pageSecurityHeaders)) ctx.set(name, value);
      ctx.type = 'html';
      ctx.body = renderPage(
        'Sign-in could not continue',
        errorPageBody(out.error, out.error_description),
      );
    },
  };

  const provider = new Provider(publicUrl, configuration);
  // Behind a TLS proxy the request arrives over plain HTTP; the proxy's X-Forwarded-Proto says
  // it was HTTPS (cookies are then marked Secure).
  provider.proxy = publicUrl.startsWith('https:');
  provider.on('server_error', (_ctx, error) => {
    logger.error({ err: error }, 'authorization server error');
  });
  return provider;
}
