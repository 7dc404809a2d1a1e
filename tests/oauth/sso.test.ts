import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAccount, request } from '../support/http.js';
import { launchChromium, startCallbackReceiver, type CallbackReceiver } from '../support/oauth.js';
import {
  signInAtIdentityProvider,
  startServerWithIdentityProvider,
  type TestIdentityProvider,
} from '../support/oidc-idp.js';
import type { TestServer } from '../support/server.js';

describe('sign-in through an OpenID Connect provider', () => {
  let idp: TestIdentityProvider;
  let server: TestServer;
  let browser: Browser;
  let callback: CallbackReceiver;
  let clientId: string;

  beforeAll(async () => {
    ({ server, idp } = await startServerWithIdentityProvider({
      PM_MCP_OIDC_ALLOWED_DOMAINS: 'example.test',
    }));
    browser = await launchChromium();
    callback = await startCallbackReceiver();
    const registered = await request<{ client_id: string }>(server.url, 'POST', '/oauth/register', {
      body: {
        client_name: 'editor',
        redirect_uris: [callback.redirectUrl],
        token_endpoint_auth_method: 'none',
      },
    });
    clientId = registered.body.client_id;
  }, 120_000);

  afterAll(async () => {
    await browser.close();
    await callback.close();
    await server.stop();
    await idp.stop();
  });

  /** An editor's authorization in a fresh browser, signed in at the identity provider as `login`. */
  async function signInWithSso(login: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const challenge = createHash('sha256')
      .update(randomBytes(32).toString('base64url'))
      .digest('base64url');
    await page.goto(
      `${server.url}/oauth/authorize?${new URLSearchParams({
        client_id: clientId,
        redirect_uri: callback.redirectUrl,
        response_type: 'code',
        scope: 'pm:read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString()}`,
    );
    await signInAtIdentityProvider(page, idp, login);
    await page.getByRole('heading').first().waitFor();
    return page;
  }

  const identitiesOf = (userId: string) =>
    server.app.database.db
      .selectFrom('user_identities')
      .selectAll()
      .where('user_id', '=', userId)
      .execute();
  const userByEmail = (email: string) =>
    server.app.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();

  it('creates the user at the first sign-in and finds them again at the next', async () => {
    idp.accounts.set('alice', { email: 'alice@example.test', email_verified: true, name: 'Alice' });
    const first = await signInWithSso('alice');
    await first.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await first.context().close();
    const user = await userByEmail('alice@example.test');
    expect(user).toBeDefined();
    const second = await signInWithSso('alice');
    await second.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await second.context().close();
    expect(await identitiesOf(user?.id ?? '')).toHaveLength(1);
    const users = await server.app.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'alice@example.test')
      .execute();
    expect(users).toHaveLength(1);
  }, 120_000);

  it('links a sign-in to the existing account with that verified email', async () => {
    const account = await registerAccount(server.url);
    idp.accounts.set('bob', { email: account.email, email_verified: true });
    const page = await signInWithSso('bob');
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page.context().close();
    const identities = await identitiesOf(account.userId);
    expect(identities).toHaveLength(1);
    expect(identities[0]).toMatchObject({ issuer: idp.issuer, subject: 'bob' });
  }, 120_000);

  const refusals: [string, string, () => void][] = [
    [
      'a disallowed domain',
      'domain_not_allowed',
      () => idp.accounts.set('carol', { email: 'carol@elsewhere.test', email_verified: true }),
    ],
    [
      'an unverified email',
      'email_not_verified',
      () => idp.accounts.set('carol', { email: 'carol@example.test', email_verified: false }),
    ],
    [
      'a wrong issuer',
      'sso_failed',
      () => {
        idp.accounts.set('carol', { email: 'carol@example.test', email_verified: true });
        idp.mutateIdToken = (claims) => ({ ...claims, iss: 'https://impostor.example' });
      },
    ],
    [
      'a wrong audience',
      'sso_failed',
      () => {
        idp.mutateIdToken = (claims) => ({ ...claims, aud: 'another-client' });
      },
    ],
    [
      'an expired ID token',
      'sso_failed',
      () => {
        const now = Math.floor(Date.now() / 1000);
        idp.mutateIdToken = (claims) => ({ ...claims, iat: now - 7200, exp: now - 3600 });
      },
    ],
  ];

  it.each(refusals)(
    'refuses %s',
    async (_what, code, arrange) => {
      idp.mutateIdToken = null;
      arrange();
      const page = await signInWithSso('carol');
      await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
      expect(await page.content()).toContain(code);
      await page.context().close();
      idp.mutateIdToken = null;
      expect(await userByEmail('carol@example.test')).toBeUndefined();
      expect(await userByEmail('carol@elsewhere.test')).toBeUndefined();
    },
    120_000,
  );
});
