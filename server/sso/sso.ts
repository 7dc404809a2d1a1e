import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import * as oidc from 'openid-client';
import { findUserByEmail } from '../auth/accounts.js';
import { recordAudit } from '../audit.js';
import type { OidcConfig } from '../config.js';
import type { Db } from '../db/database.js';
import { toIso } from '../db/schema.js';
import type { Logger } from '../log.js';

/** Why a sign-in through the identity provider was refused (shown to the person). */
export class SsoRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SsoOptions {
  config: OidcConfig;
  /** `PM_MCP_PUBLIC_URL`: the callback is `<public URL>/oauth/sso/callback`. */
  publicUrl: string;
  db: Db;
  logger: Logger;
  now: () => Date;
}

const stateCookie = 'pm_mcp_sso';
const loginTtlSeconds = 600;

/**
 * Sign-in through an OpenID Connect provider with `openid-client` (certified relying party):
 * authorization code with PKCE, state and nonce; the ID token's issuer, audience, expiry,
 * signature and nonce are checked by the library. A person is found by the (issuer, subject) they
 * signed in with before, else by verified email (linked), else created.
 */
export class SsoService {
  readonly callbackUrl: string;
  readonly #options: SsoOptions;
  #configuration: Promise<oidc.Configuration> | undefined;

  constructor(options: SsoOptions) {
    this.#options = options;
    this.callbackUrl = `${options.publicUrl}/oauth/sso/callback`;
  }

  /** The provider's display name on the login page (its host). */
  get displayName(): string {
    return new URL(this.#options.config.issuer).host;
  }

  #discover(): Promise<oidc.Configuration> {
    const { config } = this.#options;
    this.#configuration ??= oidc
      .discovery(new URL(config.issuer), config.clientId, config.clientSecret, undefined, {
        // Plain http only for a provider on this machine (tests, development).
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- loopback http only, by design
        ...(isLoopbackHttp(config.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        this.#configuration = undefined;
        throw new SsoRefusal(
          'sso_unavailable',
          'The identity provider could not be reached or described itself under another issuer.',
          { cause: error },
        );
      });
    return this.#configuration;
  }

  /** Redirects the browser to the identity provider for the interaction `uid`. */
  async start(res: Response, uid: string): Promise<void> {
    const configuration = await this.#discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    await this.#put('SsoLogin', state, { uid, verifier, nonce }, loginTtlSeconds);
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.callbackUrl,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    res.cookie(stateCookie, state, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.#options.publicUrl.startsWith('https:'),
      path: '/oauth',
      maxAge: loginTtlSeconds * 1000,
    });
    res.redirect(303, url.href);
  }

  /**
   * The identity provider's answer: checks it, finds or creates the user, and returns the
   * interaction to resume with a one-time ticket naming the user.
   */
  async callback(req: Request, res: Response): Promise<{ uid: string; ticket: string }> {
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const cookieState = cookieValue(req, stateCookie);
    res.clearCookie(stateCookie, { path: '/oauth' });
    if (!state || state !== cookieState) {
      throw new SsoRefusal(
        'invalid_state',
        'This sign-in did not start in this browser; try again.',
      );
    }
    const login = await this.#take('SsoLogin', state);
    if (
      !login ||
      typeof login.uid !== 'string' ||
      typeof login.verifier !== 'string' ||
      typeof login.nonce !== 'string'
    ) {
      throw new SsoRefusal('invalid_state', 'This sign-in has expired; try again.');
    }
    const configuration = await this.#discover();
    const currentUrl = new URL(req.originalUrl, this.callbackUrl);
    let claims: oidc.IDToken;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: login.verifier,
        expectedState: state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error('no ID token');
      claims = idClaims;
      // Providers that keep the email out of the ID token give it at the userinfo endpoint
      // (checked against the ID token's subject by the library).
      if (typeof claims.email !== 'string') {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
        claims = {
          ...claims,
          email: info.email,
          email_verified: info.email_verified,
          name: info.name,
        };
      }
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'SSO sign-in refused');
      throw new SsoRefusal('sso_failed', 'The identity provider’s answer could not be verified.', {
        cause: error,
      });
    }
    const userId = await this.#resolveUser(claims);
    const ticket = randomBytes(32).toString('base64url');
    await this.#put('SsoTicket', ticket, { uid: login.uid, userId }, 120);
    return { uid: login.uid, ticket };
  }

  /** Redeems a ticket once, for the interaction it was issued for. */
  async redeem(uid: string, ticket: string): Promise<string | undefined> {
    const row = await this.#take('SsoTicket', ticket);
    if (!row || row.uid !== uid || typeof row.userId !== 'string') return undefined;
    return row.userId;
  }

  async #resolveUser(claims: oidc.IDToken): Promise<string> {
    const { db, now, config } = this.#options;
    const issuer = claims.iss;
    const subject = claims.sub;
    const linked = await db
      .selectFrom('user_identities')
      .select(['id', 'user_id'])
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .executeTakeFirst();
    const email = typeof claims.email === 'string' ? claims.email.trim() : '';
    if (claims.email_verified !== true || email === '') {
      throw new SsoRefusal(
        'email_not_verified',
        'Your identity provider did not confirm a verified email address.',
      );
    }
    const domain = email.split('@').pop()?.toLowerCase() ?? '';
    if (config.allowedDomains.length > 0 && !config.allowedDomains.includes(domain)) {
      throw new SsoRefusal(
        'domain_not_allowed',
        `Accounts at ${domain} may not sign in to this server.`,
      );
    }
    const timestamp = now().toISOString();
    if (linked) {
      await db
        .updateTable('user_identities')
        .set({ last_login_at: timestamp, email })
        .where('id', '=', linked.id)
        .execute();
      return linked.user_id;
    }
    let user = await findUserByEmail(db, email);
    if (!user) {
      const id = randomUUID();
      const name = typeof claims.name === 'string' ? claims.name.slice(0, 200) : null;
      // No password: SSO accounts sign in through their provider (this never verifies).
      await db
        .insertInto('users')
        .values({
          id,
          email,
          name,
          password_hash: 'sso',
          created_at: timestamp,
          updated_at: timestamp,
        })
        .execute();
      await recordAudit(db, { event: 'user.registered', userId: id, detail: 'sso' }, now());
      user = await findUserByEmail(db, email);
      if (!user) throw new Error('created user not found');
    }
    await db
      .insertInto('user_identities')
      .values({
        id: randomUUID(),
        user_id: user.id,
        issuer,
        subject,
        email,
        created_at: timestamp,
        last_login_at: timestamp,
      })
      .execute();
    await recordAudit(db, { event: 'user.sso_linked', userId: user.id, detail: issuer }, now());
    return user.id;
  }

  async #put(
    kind: string,
    id: string,
    payload: Record<string, unknown>,
    ttlSeconds: number,
  ): Promise<void> {
    await this.#options.db
      .insertInto('oauth_store')
      .values({
        kind,
        id,
        payload: JSON.stringify(payload),
        grant_id: null,
        uid: null,
        user_code: null,
        expires_at: new Date(this.#options.now().getTime() + ttlSeconds * 1000).toISOString(),
        consumed_at: null,
      })
      .execute();
  }

  /** Reads and deletes a row (single use); expired rows read as absent. */
  async #take(kind: string, id: string): Promise<Record<string, unknown> | undefined> {
    const { db } = this.#options;
    const row = await db
      .selectFrom('oauth_store')
      .select(['payload', 'expires_at'])
      .where('kind', '=', kind)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const deleted = await db
      .deleteFrom('oauth_store')
      .where('kind', '=', kind)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) return undefined;
    const expiresAt = toIso(row.expires_at);
    if (expiresAt && Date.parse(expiresAt) <= this.#options.now().getTime()) return undefined;
    return JSON.parse(row.payload) as Record<string, unknown>;
  }
}

function isLoopbackHttp(url: string): boolean {
  const parsed = new URL(url);
  return (
    parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)
  );
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}
