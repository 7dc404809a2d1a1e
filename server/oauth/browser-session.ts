import type { RequestHandler } from 'express';
import type Provider from 'oidc-provider';
import type { AccountService } from '../auth/accounts.js';
import { invalidAccessToken } from '../auth/session-tokens.js';
import type { Db } from '../db/database.js';
import { destroyGrantRecords, takeOnce } from './adapter.js';

export interface BrowserSessionOptions {
  provider: Provider;
  db: Db;
  accounts: AccountService;
  /** The first-party native client (`pm-mcp-desktop`): the only one whose tokens are accepted. */
  clientId: string;
  /** `<public URL>/api/auth/browser-session`: the audience those tokens must carry. */
  resource: string;
}

const refused = () => invalidAccessToken('The sign-in token is invalid, expired or already used');

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9_-]{20,512})$/.exec(header ?? '');
  return match?.[1];
}

/**
 * `POST /api/auth/browser-session`, the last step of the desktop app's browser sign-in (RFC 8252,
 * SPEC §3.10): the app presents the short-lived `pm:session` access token the authorization
 * server issued to `pm-mcp-desktop` for this resource, and gets exactly what `/api/auth/login`
 * answers. The token is single use: deleting it is the check (of two presentations at once, one
 * finds it), and its grant goes with it, so nothing of the browser sign-in outlives the exchange.
 */
export function browserSessionRoute(options: BrowserSessionOptions): RequestHandler {
  const { provider, db, accounts } = options;
  return async (req, res) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw refused();
    const accessToken = await provider.AccessToken.find(token);
    const audience = accessToken?.aud;
    const audiences = Array.isArray(audience) ? audience : [audience];
    const scopes = (accessToken?.scope ?? '').split(' ');
    if (
      !accessToken ||
      accessToken.isExpired ||
      accessToken.clientId !== options.clientId ||
      !audiences.includes(options.resource) ||
      !scopes.includes('pm:session') ||
      !accessToken.accountId ||
      !accessToken.grantId
    ) {
      throw refused();
    }
    if (!(await takeOnce(db, 'AccessToken', accessToken.jti))) throw refused();
    await destroyGrantRecords(db, accessToken.grantId);
    const session = await accounts.startSession(accessToken.accountId);
    if (!session) throw refused();
    res.set('Cache-Control', 'no-store').json(session);
  };
}
