import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import { freePort } from './cluster.js';

export interface IdpAccount {
  email: string;
  email_verified: boolean;
  name?: string;
}

/**
 * A real OpenID provider (`oidc-provider` with its development login pages) run in-process, as
 * an organisation's identity provider. `mutateIdToken` re-signs the next ID tokens with the
 * provider's own key after changing claims (a wrong audience, issuer or expiry), so the relying
 * party's checks are what refuse them.
 */
export interface TestIdentityProvider {
  readonly issuer: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accounts: Map<string, IdpAccount>;
  mutateIdToken: ((claims: JWTPayload) => JWTPayload) | null;
  stop(): Promise<void>;
}

export async function startIdentityProvider(redirectUri: string): Promise<TestIdentityProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: 'idp-key', alg: 'RS256', use: 'sig' };
  const accounts = new Map<string, IdpAccount>();
  const clientId = 'pm-mcp-sso';
  const clientSecret = randomBytes(24).toString('base64url');
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri] }],
    jwks: { keys: [privateJwk] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...account }) };
    },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: true } },
  });
  const idp: TestIdentityProvider = {
    issuer,
    port,
    clientId,
    clientSecret,
    accounts,
    mutateIdToken: null,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (ctx.path === '/token' && idp.mutateIdToken && typeof body?.id_token === 'string') {
      const claims = idp.mutateIdToken(decodeJwt(body.id_token));
      body.id_token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-key' })
        .sign(privateKey);
    }
  });
  const handle = provider.callback();
  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return idp;
}
