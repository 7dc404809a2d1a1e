import { createHash, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../errors.js';

const issuer = 'pm-mcp';
const audience = 'pm-mcp-api';

/** What a valid access token says: whose it is, and which refresh-token family (sign-in) issued it. */
export interface AccessTokenClaims {
  userId: string;
  familyId: string;
}

/**
 * Short-lived access tokens: HS256 JWTs signed with a key derived from the master key. Each
 * carries its refresh-token family (`fam`), so ending that family (logout, reuse detection) ends
 * the access tokens it issued on their next use (the Authenticator checks the family is live).
 */
export class AccessTokens {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;

  constructor(signingKey: Buffer, ttlSeconds: number) {
    this.#key = new Uint8Array(signingKey);
    this.#ttlSeconds = ttlSeconds;
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  issue(userId: string, familyId: string): Promise<string> {
    return new SignJWT({ typ: 'access', fam: familyId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .sign(this.#key);
  }

  /** Returns the claims, or throws a 401 `invalid_token` (signature, expiry, shape). */
  async verify(token: string): Promise<AccessTokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer,
        audience,
        algorithms: ['HS256'],
      });
      if (
        payload.typ !== 'access' ||
        typeof payload.sub !== 'string' ||
        typeof payload.fam !== 'string'
      )
        throw new Error('not an access token');
      return { userId: payload.sub, familyId: payload.fam };
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      throw invalidAccessToken(expired ? 'Access token expired' : 'Invalid access token');
    }
  }
}

export const invalidAccessToken = (message = 'Invalid access token'): AppError =>
  new AppError('invalid_token', message, { headers: { 'WWW-Authenticate': 'Bearer' } });

/** Refresh tokens are opaque random strings; only their SHA-256 is stored. */
export function generateRefreshToken(): string {
  return 'pmr_' + randomBytes(32).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
