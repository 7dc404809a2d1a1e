import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import {
  answerAsJira,
  closedPort,
  startRecordingServer,
  type RecordingServer,
} from '../support/recording-server.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 10, item 1 through the HTTP API: creating, re-pointing or testing a connection never
 * reaches a loopback or private address the operator has not allowed (checked on the address
 * actually connected to), a refusal says whom to ask, and a base URL not yet verified never has
 * the upstream body or a redirect target echoed back. SQLite only: nothing here is storage.
 */

const operatorHint = /ask the server's operator to allow it in PM_MCP_PROVIDER_ALLOWED_HOSTS/;
const token = 'ssrf-api-token-9b7e';
const secretText = 'INTERNAL-ONLY-51aa';

interface ErrorBody {
  error?: string;
  message?: string;
  provider?: { id: string; base_url: string };
  providers?: { id: string; base_url: string }[];
  ok?: boolean;
}

describe('the providers API with no allow-list', () => {
  let server: TestServer;
  let target: RecordingServer;
  let alice: TestAccount;

  beforeAll(async () => {
    target = await startRecordingServer();
    server = await startTestServer({
      env: { PM_MCP_PROVIDER_ALLOWED_HOSTS: '' },
      providerHttp: { maxAttempts: 1, timeoutMs: 3_000 },
    });
    alice = await registerAccount(server.url, 'Alice');
  });
  afterAll(async () => {
    expect(server.logs.join('')).not.toContain(token);
    await server.stop();
    await target.stop();
  });
  beforeEach(() => {
    target.calls.splice(0);
  });

  const create = (baseUrl: string) =>
    request<ErrorBody>(server.url, 'POST', '/api/users/me/providers', {
      headers: { authorization: `Bearer ${alice.accessToken}` },
      body: { provider_type: 'jira_server', name: 'Internal', base_url: baseUrl, api_token: token },
    });

  it.each([
    '127.0.0.1',
    '127.0.0.2',
    '0.0.0.0',
    '[::]',
    '[::1]',
    'localhost',
    '2130706433',
    '0x7f.1',
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[64:ff9b::127.0.0.1]',
  ])('refuses %s with 400, names the variable, and sends nothing', async (host) => {
    const response = await create(target.urlVia(host));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    expect(response.body.message).toMatch(/^base_url: /);
    expect(response.body.message).toMatch(operatorHint);
    expect(target.calls).toEqual([]);
  });

  it.each(['http://10.0.0.1/', 'http://172.20.1.1/', 'http://192.168.0.1/', 'http://100.64.1.1/'])(
    'refuses the private address %s',
    async (baseUrl) => {
      const response = await create(baseUrl);
      expect(response.status).toBe(400);
      expect(response.body.message).toMatch(operatorHint);
    },
  );

  it("refuses the server's own address, and a closed port exactly like an open one", async () => {
    const own = await create(server.url);
    const closed = await closedPort();
    const shut = await create(`http://127.0.0.1:${closed}`);
    const open = await create(`http://127.0.0.1:${target.port}`);
    expect([own.status, shut.status, open.status]).toEqual([400, 400, 400]);
    expect(own.text).not.toContain('"status":"ok"');
    expect(shut.text.replaceAll(String(closed), '<port>')).toBe(
      open.text.replaceAll(String(target.port), '<port>'),
    );
    expect(shut.text).not.toMatch(/ECONNREFUSED/);
    const listed = await request<ErrorBody>(server.url, 'GET', '/api/users/me/providers', {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    expect(listed.body.providers).toEqual([]);
    expect(target.calls).toEqual([]);
  });
});

describe('the providers API with PM_MCP_PROVIDER_ALLOWED_HOSTS set to a host name and a CIDR range', () => {
  let server: TestServer;
  let target: RecordingServer;
  let alice: TestAccount;
  /** The server's DNS: names used below → addresses; `moving.test` changes during a test. */
  const dns: Record<string, string> = {
    'jira.allowed.test': '127.0.0.1',
    'other.test': '10.0.0.7',
    'moving.test': '127.0.0.1',
  };
  const session = () => ({ authorization: `Bearer ${alice.accessToken}` });

  beforeAll(async () => {
    target = await startRecordingServer();
    server = await startTestServer({
      env: { PM_MCP_PROVIDER_ALLOWED_HOSTS: 'jira.allowed.test, 127.0.0.1/32' },
      providerHttp: {
        maxAttempts: 1,
        timeoutMs: 3_000,
        lookup: (hostname) => {
          const address = dns[hostname];
          if (address === undefined) return Promise.reject(new Error('ENOTFOUND'));
          return Promise.resolve([{ address, family: 4 }]);
        },
      },
    });
    alice = await registerAccount(server.url, 'Alice');
  });
  afterAll(async () => {
    expect(server.logs.join('')).not.toContain(token);
    await server.stop();
    await target.stop();
  });
  beforeEach(() => {
    target.calls.splice(0);
    target.answer(answerAsJira);
  });

  const create = (baseUrl: string) =>
    request<ErrorBody>(server.url, 'POST', '/api/users/me/providers', {
      headers: session(),
      body: { provider_type: 'jira_server', name: 'Internal', base_url: baseUrl, api_token: token },
    });

  it('accepts the allowed name and the allowed range, and nothing else', async () => {
    expect((await create(target.urlVia('jira.allowed.test'))).status).toBe(201);
    expect((await create(target.urlVia('127.0.0.1'))).status).toBe(201);
    expect(target.calls).toHaveLength(2);
    target.calls.splice(0);
    for (const host of ['other.test', '127.0.0.2', '[::1]', '0.0.0.0']) {
      const refused = await create(target.urlVia(host));
      expect(refused.status).toBe(400);
      expect(refused.body.message).toMatch(operatorHint);
    }
    expect(target.calls).toEqual([]);
  });

  it('refuses a PATCH that moves a connection to a host outside the allow-list', async () => {
    const created = await create(target.urlVia('jira.allowed.test'));
    const id = created.body.provider?.id ?? '';
    target.calls.splice(0);
    const patched = await request<ErrorBody>(server.url, 'PATCH', `/api/users/me/providers/${id}`, {
      headers: session(),
      body: { base_url: target.urlVia('127.0.0.2'), api_token: token },
    });
    expect(patched.status).toBe(400);
    expect(patched.body.message).toMatch(operatorHint);
    expect(target.calls).toEqual([]);
    const listed = await request<ErrorBody>(server.url, 'GET', '/api/users/me/providers', {
      headers: session(),
    });
    expect(listed.body.providers?.find((item) => item.id === id)?.base_url).toBe(
      target.urlVia('jira.allowed.test'),
    );
  });

  it('POST …/test refuses a stored connection whose name now resolves outside the allow-list', async () => {
    const created = await create(target.urlVia('moving.test'));
    expect(created.status).toBe(201);
    const id = created.body.provider?.id ?? '';
    target.calls.splice(0);
    dns['moving.test'] = '127.0.0.2';
    try {
      const tested = await request<ErrorBody>(
        server.url,
        'POST',
        `/api/users/me/providers/${id}/test`,
        { headers: session() },
      );
      expect(tested.status).toBe(200);
      expect(tested.body.ok).toBe(false);
      expect(tested.body.message).toMatch(/moving\.test resolves to a loopback address/);
      expect(tested.body.message).toMatch(operatorHint);
      expect(target.calls).toEqual([]);
    } finally {
      dns['moving.test'] = '127.0.0.1';
    }
  });

  it('never echoes the body or the redirect target of a base URL not yet verified', async () => {
    const created = await create(target.urlVia('jira.allowed.test'));
    const id = created.body.provider?.id ?? '';
    const answers = [
      () =>
        target.answer((_req, res) => {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errorMessages: [secretText] }));
        }),
      () =>
        target.answer((_req, res) => {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: secretText }));
        }),
      () =>
        target.answer((_req, res) => {
          res.writeHead(302, { location: `http://10.20.30.40/${secretText}` });
          res.end();
        }),
    ];
    for (const answer of answers) {
      answer();
      const posted = await create(target.urlVia('127.0.0.1'));
      expect(posted.status).toBe(422);
      expect(posted.body.error).toBe('provider_rejected');
      const patched = await request<ErrorBody>(
        server.url,
        'PATCH',
        `/api/users/me/providers/${id}`,
        { headers: session(), body: { base_url: target.urlVia('127.0.0.1'), api_token: token } },
      );
      expect(patched.status).toBe(422);
      for (const text of [posted.text, patched.text]) {
        expect(text).not.toContain(secretText);
        expect(text).not.toContain('10.20.30.40');
      }
    }
  });
});
