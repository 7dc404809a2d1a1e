import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import {
  randomEmail,
  randomPassword,
  registerAccount,
  request,
  type TestAccount,
} from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface SessionBody {
  user: { id: string; email: string };
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

describe.each(databaseKinds)('accounts on %s', (database) => {
  let server: TestServer;
  let account: TestAccount;

  beforeAll(async () => {
    server = await startTestServer({ database });
    account = await registerAccount(server.url, 'Alice');
  });
  afterAll(async () => {
    expect(server.logs.join('')).not.toContain(account.password);
    await server.stop();
  });

  const login = (email: string, password: string) =>
    request<SessionBody>(server.url, 'POST', '/api/auth/login', { body: { email, password } });

  it('registers with the documented shape and signs in case-insensitively', async () => {
    const email = randomEmail();
    const password = randomPassword();
    const registered = await request<SessionBody>(server.url, 'POST', '/api/auth/register', {
      body: { email, password, name: 'New', unexpected_field: 'ignored' },
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ user: { email }, token_type: 'Bearer' });
    expect(registered.text).not.toContain('password');
    const signedIn = await login(email.toUpperCase(), password);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user.id).toBe(registered.body.user.id);
  });

  it('refuses a duplicate email, whatever its case, with 409', async () => {
    const response = await request(server.url, 'POST', '/api/auth/register', {
      body: { email: account.email.toUpperCase(), password: randomPassword() },
    });
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('email_taken');
  });

  it('gives one answer for a wrong password and an unknown email', async () => {
    const wrongPassword = await login(account.email, 'not-the-password');
    const unknownEmail = await login(randomEmail(), 'not-the-password');
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.text).toBe(unknownEmail.text);
    expect(wrongPassword.body).toEqual({
      error: 'invalid_credentials',
      message: 'Invalid email or password',
    });
  });

  it('rotates refresh tokens and revokes the family when an old one is reused', async () => {
    const first = await login(account.email, account.password);
    const second = await request<SessionBody>(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: first.body.refresh_token },
    });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    const reuse = await request(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: first.body.refresh_token },
    });
    expect(reuse.status).toBe(401);
    // The reuse revoked the whole family, including the token issued by the legitimate refresh.
    const afterReuse = await request(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: second.body.refresh_token },
    });
    expect(afterReuse.status).toBe(401);
  });

  it('logs out by revoking the refresh token', async () => {
    const session = await login(account.email, account.password);
    expect(
      (
        await request(server.url, 'POST', '/api/auth/logout', {
          body: { refresh_token: session.body.refresh_token },
        })
      ).status,
    ).toBe(204);
    const refreshed = await request(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: session.body.refresh_token },
    });
    expect(refreshed.status).toBe(401);
  });

  it('answers /me for a session token and refuses a tampered one', async () => {
    const me = await request(server.url, 'GET', '/api/users/me', {
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    expect(me.body).toMatchObject({ id: account.userId, email: account.email, name: 'Alice' });
    const tampered =
      account.accessToken.slice(0, -2) + (account.accessToken.endsWith('AA') ? 'BB' : 'AA');
    const refused = await request(server.url, 'GET', '/api/users/me', {
      headers: { authorization: `Bearer ${tampered}` },
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_token');
  });

  it('names the problem in malformed JSON, refuses oversized bodies, and validates fields', async () => {
    const malformed = await request(server.url, 'POST', '/api/auth/login', {
      rawBody: '{"email": "a@b.c",',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_json');
    expect(String(malformed.body.message)).toMatch(/JSON/);
    const oversized = await request(server.url, 'POST', '/api/auth/login', {
      rawBody: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(oversized.status).toBe(413);
    const invalid = await request(server.url, 'POST', '/api/auth/register', {
      body: { email: 'not-an-email', password: 'x' },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toMatch(/^email:/);
    const short = await request(server.url, 'POST', '/api/auth/register', {
      body: { email: randomEmail(), password: 'short' },
    });
    expect(short.body.message).toMatch(/^password:/);
  });

  it('answers /health with the database status', async () => {
    const health = await request(server.url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', database: 'ok' });
    expect(typeof health.body.version).toBe('string');
  });

  it('answers an unknown path with a JSON 404', async () => {
    const response = await request(server.url, 'GET', '/nope');
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('not_found');
  });
});

describe('registration switched off', () => {
  it('refuses sign-ups with a clear message', async () => {
    const server = await startTestServer({ env: { PM_MCP_ALLOW_REGISTRATION: 'false' } });
    try {
      const response = await request(server.url, 'POST', '/api/auth/register', {
        body: { email: randomEmail(), password: randomPassword() },
      });
      expect(response.status).toBe(403);
      expect(response.body.error).toBe('registration_disabled');
    } finally {
      await server.stop();
    }
  });
});

describe('sign-in throttling', () => {
  it('refuses an account after repeated wrong passwords, with Retry-After', async () => {
    const server = await startTestServer();
    try {
      const account = await registerAccount(server.url);
      const statuses: number[] = [];
      for (let i = 0; i < 11; i += 1) {
        statuses.push(
          (
            await request(server.url, 'POST', '/api/auth/login', {
              body: { email: account.email, password: 'wrong-password' },
            })
          ).status,
        );
      }
      expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true);
      expect(statuses[10]).toBe(429);
      const right = await request(server.url, 'POST', '/api/auth/login', {
        body: { email: account.email, password: account.password },
      });
      expect(right.status).toBe(429);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });
});
