import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, registerAccount, type CreatedKey, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { rawRequest } from './raw-http.js';
import { fuzzParameters, nastyString } from './support.js';

/**
 * Arbitrary bodies for every account API route: never a 500; a validation error names the
 * field; a refused request gets the same answer again. (Accepted requests change state by
 * design — a second registration of the same email is a 409 — so only refusals are repeated.)
 *
 * The sign-in limiter counts per client address: the server trusts loopback proxies here and
 * every run comes from its own X-Forwarded-For address, a fresh limiter window. A 429 that
 * still occurs (the same email drawn many times) is allowed and not repeated.
 */
interface Route {
  method: 'POST' | 'PATCH';
  path: (ids: { key: string }) => string;
  fields: Record<string, fc.Arbitrary<unknown>>;
  session: boolean;
}

const anyValue = fc.jsonValue({ maxDepth: 2 });
const text = (max: number) => fc.oneof(nastyString(max), anyValue);
const baseUrl = fc.oneof(
  fc.constantFrom('http://127.0.0.1:1', 'https://10.0.0.1', 'ftp://example.test', 'not a url', ''),
  anyValue,
);
const routes: Route[] = [
  {
    method: 'POST',
    path: () => '/api/auth/register',
    session: false,
    fields: { email: text(400), password: text(300), name: text(300) },
  },
  {
    method: 'POST',
    path: () => '/api/auth/login',
    session: false,
    fields: { email: text(400), password: text(300) },
  },
  {
    method: 'POST',
    path: () => '/api/auth/refresh',
    session: false,
    fields: { refresh_token: text(600) },
  },
  {
    method: 'POST',
    path: () => '/api/auth/logout',
    session: false,
    fields: { refresh_token: text(600) },
  },
  {
    method: 'POST',
    path: () => '/api/users/me/mcp-keys',
    session: true,
    fields: {
      name: text(150),
      expires_in_days: fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1e308, 0.5, null), anyValue),
      scope: fc.oneof(fc.constantFrom('read', 'write', 'admin'), anyValue),
    },
  },
  {
    method: 'POST',
    path: ({ key }) => `/api/users/me/mcp-keys/${key}/rotate`,
    session: true,
    fields: {},
  },
  {
    method: 'POST',
    path: () => '/api/users/me/providers',
    session: true,
    fields: {
      provider_type: fc.oneof(
        fc.constantFrom('jira', 'jira_server', 'openproject', 'github'),
        anyValue,
      ),
      name: text(150),
      base_url: baseUrl,
      email: text(400),
      api_token: text(5000),
    },
  },
  {
    method: 'PATCH',
    path: () => `/api/users/me/providers/${randomUUID()}`,
    session: true,
    fields: {
      name: text(150),
      is_active: fc.oneof(fc.boolean(), anyValue),
      base_url: baseUrl,
      email: text(400),
      api_token: text(5000),
    },
  },
];

describe('REST bodies', () => {
  let server: TestServer;
  let account: TestAccount;
  let key: CreatedKey;
  let address = 0;

  beforeAll(async () => {
    server = await startTestServer({
      env: { PM_MCP_TRUST_PROXY: 'loopback' },
      // Checks of unreachable provider URLs fail fast.
      providerHttp: { timeoutMs: 2_000, maxAttempts: 1 },
    });
    account = await registerAccount(server.url, 'Fuzz');
    key = await createKey(server.url, account);
  });
  afterAll(async () => {
    const logs = server.logs.join('');
    await server.stop();
    expect(logs).not.toContain('unhandled error');
  });

  it('every route: never a 500, validation errors name the field, a refusal is the same twice', async () => {
    const bodies = routes.map((route, index) =>
      fc.record({
        route: fc.constant(index),
        body: fc.oneof(
          {
            weight: 5,
            arbitrary: fc
              .record(route.fields, { requiredKeys: [] })
              .map((value) => JSON.stringify(value)),
          },
          { weight: 1, arbitrary: anyValue.map((value) => JSON.stringify(value)) },
          { weight: 1, arbitrary: nastyString(200) },
        ),
        contentType: fc.constantFrom(
          'application/json',
          'application/json',
          'text/plain',
          'application/json; charset=utf-16',
        ),
      }),
    );
    const property = fc.asyncProperty(
      fc.oneof(...bodies),
      async ({ route: index, body, contentType }) => {
        const route = routes[index];
        if (!route) throw new Error(`no route ${index}`);
        address += 1;
        const forwardedFor = `10.${(address >> 16) & 255}.${(address >> 8) & 255}.${address & 255}`;
        const path = route.path({ key: key.id });
        const send = () =>
          rawRequest(server.url, {
            method: route.method,
            path,
            headers: [
              ['Content-Type', contentType],
              ['X-Forwarded-For', forwardedFor],
              ...(route.session
                ? ([['Authorization', `Bearer ${account.accessToken}`]] as [string, string][])
                : []),
            ],
            body,
          });
        const first = await send();
        expect(first.status).toBeLessThan(500);
        if (first.status === 400) {
          const answer = JSON.parse(first.body) as {
            error: string;
            message: string;
            issues?: { path: string; message: string }[];
          };
          expect(answer.message.length).toBeGreaterThan(5);
          if (answer.error === 'validation_failed') {
            const firstIssue = answer.issues?.[0];
            expect(firstIssue).toBeDefined();
            if (firstIssue?.path)
              expect(answer.message.startsWith(`${firstIssue.path}: `)).toBe(true);
          }
        }
        if (first.status >= 400 && first.status !== 409 && first.status !== 429) {
          const second = await send();
          expect({ status: second.status, body: second.body }).toEqual({
            status: first.status,
            body: first.body,
          });
        }
      },
    );
    await fc.assert(property, fuzzParameters(300, 40_000));
    expect(
      (await rawRequest(server.url, { method: 'GET', path: '/health', headers: [] })).status,
    ).toBe(200);
  }, 90_000);

  // Found by the property above: refusals made by the services (not the body schema) had no
  // `issues`, and the key lifetime's message did not start with its field.
  it('a key lifetime over the maximum names expires_in_days like every validation error', async () => {
    const response = await rawRequest(server.url, {
      method: 'POST',
      path: '/api/users/me/mcp-keys',
      headers: [
        ['Content-Type', 'application/json'],
        ['Authorization', `Bearer ${account.accessToken}`],
      ],
      body: JSON.stringify({ name: 'long', expires_in_days: 100_000 }),
    });
    expect(response.status).toBe(400);
    const answer = JSON.parse(response.body) as { message: string; issues: { path: string }[] };
    expect(answer.message).toMatch(/^expires_in_days: must be between 1 and \d+/);
    expect(answer.issues).toEqual([expect.objectContaining({ path: 'expires_in_days' })]);
  });
});
