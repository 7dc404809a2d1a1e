import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import type { Page } from 'playwright-core';
import { freePort } from './cluster.js';
import { startTestServer, type TestServer } from './server.js';

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

/**
 * The real server with OAuth on (its public URL is its loopback address) and single sign-on
 * through an identity provider started for it; `env` adds to (or overrides) the server's.
 */
export async function startServerWithIdentityProvider(
  env: Record<string, string> = {},
): Promise<{ server: TestServer; idp: TestIdentityProvider }> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startIdentityProvider(`${publicUrl}/oauth/sso/callback`);
  const server = await startTestServer({
    env: {
      PORT: String(port),
      PM_MCP_PUBLIC_URL: publicUrl,
      PM_MCP_OIDC_ISSUER: idp.issuer,
      PM_MCP_OIDC_CLIENT_ID: idp.clientId,
      PM_MCP_OIDC_CLIENT_SECRET: idp.clientSecret,
      ...env,
    },
  });
  return { server, idp };
}

/**
 * On the server's login page (open in `page`): "Sign in with <provider>", then the identity
 * provider's own login and consent pages, as `login` (any password).
 */
export async function signInAtIdentityProvider(
  page: Page,
  idp: TestIdentityProvider,
  login: string,
): Promise<void> {
  await page.getByRole('link', { name: `Sign in with 127.0.0.1:${idp.port}` }).click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}
