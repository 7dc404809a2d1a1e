import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import {
  randomEmail,
  randomPassword,
  registerAccount,
  request,
  type JsonResponse,
  type TestAccount,
} from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Settles when `condition` holds; polls (the machine may be busy), fails after a generous wait. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(databaseKinds)('password attempts on %s', (database) => {
  describe('concurrent sign-ins', () => {
    let server: TestServer;
    let account: TestAccount;

    beforeAll(async () => {
      server = await startTestServer({
        database,
        // Dearer than the other suites' hashes, so that the attempts really overlap; a queue
        // long enough that the hashing cap refuses none of them here.
        passwordCost: { N: 2 ** 14, r: 8, p: 1 },
        passwordHashing: { concurrent: 2, waiting: 32 },
      });
      account = await registerAccount(server.url);
    });
    afterAll(() => server.stop());

    it('16 concurrent wrong passwords: at most the limit (10) are tried, the rest get 429', async () => {
      const responses = await Promise.all(
        Array.from({ length: 16 }, () =>
          request(server.url, 'POST', '/api/auth/login', {
            body: { email: account.email, password: 'not-the-password' },
          }),
        ),
      );
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 401)).toHaveLength(10);
      expect(statuses.filter((status) => status === 429)).toHaveLength(6);
      for (const refused of responses.filter((response) => response.status === 429)) {
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      // Exactly ten wrong passwords were checked.
      const failures = await server.app.database.db
        .selectFrom('audit_log')
        .select('id')
        .where('event', '=', 'login.failed')
        .where('user_id', '=', account.userId)
        .execute();
      expect(failures).toHaveLength(10);
    });
  });

  describe('password hashing', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({
        database,
        passwordHashing: { concurrent: 2, waiting: 2 },
      });
    });
    afterAll(() => server.stop());

    it('runs at most 2 hashes with 2 waiting; 12 concurrent registrations beyond get 503 with Retry-After', async () => {
      // Two long hashes hold both running slots (stand-ins for two costly scrypt runs).
      const releases: (() => void)[] = [];
      const held = Array.from({ length: 2 }, () =>
        server.app.passwordHashing.run(
          () => new Promise<void>((resolve) => releases.push(resolve)),
        ),
      );
      await waitFor(() => releases.length === 2, 'both hashing slots to be taken');

      const emails = Array.from({ length: 12 }, () => randomEmail());
      const settled: JsonResponse[] = [];
      const all = Promise.all(
        emails.map((email) =>
          request(server.url, 'POST', '/api/auth/register', {
            body: { email, password: randomPassword() },
          }).then((response) => {
            settled.push(response);
            return response;
          }),
        ),
      );
      // Two wait in the queue; the ten others are refused at once, without hashing.
      await waitFor(() => settled.length === 10, 'ten registrations to be refused');
      expect(settled.map((response) => response.status)).toEqual(Array(10).fill(503));
      for (const busy of settled) {
        expect(busy.body.error).toBe('server_busy');
        expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      for (const release of releases) release();
      await Promise.all(held);
      const statuses = (await all).map((response) => response.status);
      expect(statuses.filter((status) => status === 201)).toHaveLength(2);
      expect(statuses.filter((status) => status === 503)).toHaveLength(10);

      const created = await server.app.database.db
        .selectFrom('users')
        .select('email')
        .where('email', 'in', emails)
        .execute();
      expect(created).toHaveLength(2);
    });

    it('sign-ins share the same cap', async () => {
      const account = await registerAccount(server.url);
      const releases: (() => void)[] = [];
      const hold = () =>
        server.app.passwordHashing.run(
          () => new Promise<void>((resolve) => releases.push(resolve)),
        );
      // Two running and two waiting: the queue is full.
      const held = [hold(), hold(), hold(), hold()];
      await waitFor(() => releases.length === 2, 'both hashing slots to be taken');
      const busy = await request(server.url, 'POST', '/api/auth/login', {
        body: { email: account.email, password: account.password },
      });
      expect(busy.status).toBe(503);
      expect(busy.body.error).toBe('server_busy');
      for (const release of releases.splice(0)) release();
      await waitFor(() => releases.length === 2, 'the waiting hashes to start');
      for (const release of releases.splice(0)) release();
      await Promise.all(held);
      const signedIn = await request(server.url, 'POST', '/api/auth/login', {
        body: { email: account.email, password: account.password },
      });
      expect(signedIn.status).toBe(200);
    });
  });

  describe('registration from one address', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({
        database,
        registrationLimit: { maxAttempts: 3, windowMs: 10 * 60_000 },
      });
    });
    afterAll(() => server.stop());

    it('is limited: past the limit, 429 with Retry-After, and no account is created', async () => {
      const first = await registerAccount(server.url);
      // A taken email counts too: probing for accounts is registration attempts as well.
      const taken = await request(server.url, 'POST', '/api/auth/register', {
        body: { email: first.email, password: randomPassword() },
      });
      expect(taken.status).toBe(409);
      await registerAccount(server.url);
      const email = randomEmail();
      const refused = await request(server.url, 'POST', '/api/auth/register', {
        body: { email, password: randomPassword() },
      });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('too_many_requests');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const probe = await request(server.url, 'POST', '/api/auth/register', {
        body: { email: first.email, password: randomPassword() },
      });
      expect(probe.status).toBe(429);
      const created = await server.app.database.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', email)
        .execute();
      expect(created).toEqual([]);
    });
  });
});
