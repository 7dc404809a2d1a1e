import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import { connectMcpClient } from '../support/mcp.js';
import { registerAccount, request } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface SessionBody {
  access_token: string;
  refresh_token: string;
}

describe.each(databaseKinds)('an access token whose session ended, on %s', (database) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ database });
  });
  afterAll(() => server.stop());

  const me = (accessToken: string) =>
    request<{ error?: string }>(server.url, 'GET', '/api/users/me', {
      headers: { authorization: `Bearer ${accessToken}` },
    });

  it('is refused on the next request after logout', async () => {
    const account = await registerAccount(server.url);
    expect((await me(account.accessToken)).status).toBe(200);
    const loggedOut = await request(server.url, 'POST', '/api/auth/logout', {
      body: { refresh_token: account.refreshToken },
    });
    expect(loggedOut.status).toBe(204);
    const after = await me(account.accessToken);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('invalid_token');
    expect(after.headers.get('www-authenticate')).toBe('Bearer');
    // On the MCP endpoint as well.
    await expect(
      connectMcpClient(server.url, 'streamable', {
        headers: { Authorization: `Bearer ${account.accessToken}` },
      }),
    ).rejects.toThrow();
  });

  it('is refused after refresh-token reuse revokes its family, old and new tokens alike', async () => {
    const account = await registerAccount(server.url);
    const refreshed = await request<SessionBody>(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: account.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect((await me(refreshed.body.access_token)).status).toBe(200);

    // The first refresh token, already rotated away, comes back: it leaked.
    const reuse = await request(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: account.refreshToken },
    });
    expect(reuse.status).toBe(401);
    expect((await me(refreshed.body.access_token)).status).toBe(401);
    expect((await me(account.accessToken)).status).toBe(401);
  });

  it('a rotation keeps the session live; another session of the same user is untouched', async () => {
    const account = await registerAccount(server.url);
    const otherSession = await request<SessionBody>(server.url, 'POST', '/api/auth/login', {
      body: { email: account.email, password: account.password },
    });
    const refreshed = await request<SessionBody>(server.url, 'POST', '/api/auth/refresh', {
      body: { refresh_token: account.refreshToken },
    });
    // The access token from before the rotation belongs to the same, still live, family.
    expect((await me(account.accessToken)).status).toBe(200);
    await request(server.url, 'POST', '/api/auth/logout', {
      body: { refresh_token: refreshed.body.refresh_token },
    });
    expect((await me(refreshed.body.access_token)).status).toBe(401);
    expect((await me(otherSession.body.access_token)).status).toBe(200);
  });
});
