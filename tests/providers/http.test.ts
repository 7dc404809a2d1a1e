import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ProviderAuthError,
  ProviderForbiddenError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderUnavailableError,
  ProviderValidationError,
  UnsafeProviderUrlError,
} from '../../server/providers/errors.js';
import { assertSafeProviderBaseUrl, ProviderHttp } from '../../server/providers/http.js';
import { createProviderClient } from '../../server/providers/index.js';
import { elapsedSince, expectNoSecretIn, failureOf, fastHttp } from './support.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A one-off HTTP server whose next answers the test scripts. */
describe('the provider HTTP layer', () => {
  let server: Server;
  let url: string;
  let handler: Handler = (_req, res) => res.end();
  let hits: { method: string; url: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push({ method: req.method ?? '', url: req.url ?? '' });
      req.resume();
      req.on('end', () => handler(req, res));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  beforeEach(() => {
    hits = [];
  });

  const json = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const http = (
    providerType: 'jira' | 'jira_server' | 'openproject' = 'jira',
    options = fastHttp,
  ): ProviderHttp =>
    new ProviderHttp(
      { providerType, baseUrl: url, authorization: 'Bearer very-secret-token' },
      options,
    );
  const ok = z.object({ ok: z.boolean() });

  it('treats X-Seraph-LoginReason: AUTHENTICATION_DENIED on a 200 as an auth error that explains the CAPTCHA', async () => {
    handler = (_req, res) =>
      json(res, 200, { values: [] }, { 'X-Seraph-LoginReason': 'AUTHENTICATION_DENIED' });
    const error = await failureOf(() =>
      http().request({
        method: 'GET',
        path: '/rest/api/3/project/search',
        schema: z.object({ values: z.array(z.unknown()) }),
      }),
    );
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error.message).toContain('CAPTCHA');
    expectNoSecretIn(error, 'very-secret-token');
  });

  it('maps 403 to a forbidden error that is still an auth error', async () => {
    handler = (_req, res) =>
      json(res, 403, {
        errorMessages: ['You do not have permission to edit this issue.'],
        errors: {},
      });
    const error = await failureOf(
      () => http().request({ method: 'PUT', path: '/rest/api/3/issue/A-1', body: {} }),
      ProviderForbiddenError,
    );
    expect(error).toBeInstanceOf(ProviderForbiddenError);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error.code).toBe('provider_forbidden');
    expect(error.message).toBe(
      'Jira Cloud refused PUT /rest/api/3/issue/A-1 for this account (403): You do not have permission to edit this issue.',
    );
  });

  it('reads OpenProject MultipleErrors into one message and field errors', async () => {
    handler = (_req, res) =>
      json(res, 422, {
        _type: 'Error',
        errorIdentifier: 'urn:openproject-org:api:v3:errors:MultipleErrors',
        message: 'Multiple field constraints have been violated.',
        _embedded: {
          errors: [
            {
              _type: 'Error',
              errorIdentifier: 'urn:openproject-org:api:v3:errors:PropertyConstraintViolation',
              message: "Subject can't be blank.",
              _embedded: { details: { attribute: 'subject' } },
            },
            {
              _type: 'Error',
              errorIdentifier: 'urn:openproject-org:api:v3:errors:PropertyConstraintViolation',
              message: 'Type is not set to one of the allowed values.',
              _embedded: { details: { attribute: 'type' } },
            },
          ],
        },
      });
    const error = await failureOf(
      () =>
        http('openproject').request({ method: 'POST', path: '/api/v3/work_packages', body: {} }),
      ProviderValidationError,
    );
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.message).toBe(
      "OpenProject refused POST /api/v3/work_packages: Subject can't be blank. Type is not set to one of the allowed values.",
    );
    expect(error.fieldErrors).toEqual({
      subject: "Subject can't be blank.",
      type: 'Type is not set to one of the allowed values.',
    });
  });

  it('does not follow redirects and says to check the base URL', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: 'https://login.example.com/sso?token=abc' });
      res.end();
    };
    const error = await failureOf(() =>
      http().request({ method: 'GET', path: '/rest/api/3/myself', schema: ok }),
    );
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect(error.message).toBe(
      'Jira Cloud redirected GET /rest/api/3/myself to https://login.example.com/sso. Check the base URL (scheme, host and context path); redirects are not followed.',
    );
    expect(hits).toHaveLength(1);
  });

  it('reports an HTML answer as "not the API", not as a crash', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>Log in</html>');
    };
    const error = await failureOf(() =>
      http('jira_server').request({ method: 'GET', path: '/rest/api/2/myself', schema: ok }),
    );
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect(error.message).toContain('did not answer GET /rest/api/2/myself with JSON');
  });

  it('reports a JSON answer of the wrong shape with the offending field', async () => {
    handler = (_req, res) => json(res, 200, { ok: 'yes' });
    const error = await failureOf(() => http().request({ method: 'GET', path: '/x', schema: ok }));
    expect(error.message).toMatch(/^Jira Cloud sent an unexpected answer to GET \/x \(ok: /);
  });

  it('retries a 503 on GET but not on POST without Retry-After', async () => {
    handler = (_req, res) => json(res, 503, { errorMessages: ['Down for maintenance'] });
    const get = await failureOf(() => http().request({ method: 'GET', path: '/a', schema: ok }));
    expect(get).toBeInstanceOf(ProviderUnavailableError);
    expect(hits).toHaveLength(3);
    hits = [];
    const post = await failureOf(() =>
      http().request({ method: 'POST', path: '/a', body: {}, schema: ok }),
    );
    expect(post.message).toBe('Jira Cloud failed with 503 on POST /a: Down for maintenance');
    expect(hits).toHaveLength(1);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls++;
      if (calls === 1)
        json(res, 429, {}, { 'Retry-After': new Date(Date.now() + 2_000).toUTCString() });
      else json(res, 200, { ok: true });
    };
    const start = performance.now();
    await expect(http().request({ method: 'GET', path: '/a', schema: ok })).resolves.toEqual({
      ok: true,
    });
    expect(elapsedSince(start)).toBeGreaterThan(500); // HTTP dates have whole seconds
  });

  it('caps the total wait across retries', async () => {
    handler = (_req, res) => json(res, 429, {}, { 'Retry-After': '1' });
    const start = performance.now();
    const error = await failureOf(() =>
      http('jira', { ...fastHttp, maxAttempts: 10, maxTotalRetryWaitMs: 1_500 }).request({
        method: 'GET',
        path: '/a',
        schema: ok,
      }),
    );
    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect(hits).toHaveLength(2);
    expect(elapsedSince(start)).toBeLessThan(1_900);
  });

  it('stops waiting for a retry when the caller aborts', async () => {
    handler = (_req, res) => json(res, 429, {}, { 'Retry-After': '2' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), 100);
    const start = performance.now();
    const error = await failureOf(() =>
      http().request({ method: 'GET', path: '/a', schema: ok, signal: controller.signal }),
    );
    expect(error.message).toBe('caller gave up');
    expect(elapsedSince(start)).toBeLessThan(1_000);
  });

  it('reports a refused connection as unavailable, naming the host but no secret', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const client = createProviderClient(
      {
        providerType: 'jira',
        baseUrl: `http://127.0.0.1:${port}`,
        email: 'a@b.c',
        apiToken: 'tok-secret-789',
      },
      fastHttp,
    );
    const error = await failureOf(() => client.checkCredentials());
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).toBe(
      `Could not reach Jira Cloud at http://127.0.0.1:${port} (ECONNREFUSED). Check the base URL and that the server is up.`,
    );
    expectNoSecretIn(error, 'tok-secret-789');
  });

  describe('the base-URL guard', () => {
    it.each([
      ['ftp://jira.example.com', /must use http or https, not ftp/],
      ['file:///etc/passwd', /must use http or https/],
      ['https://user:pass@jira.example.com', /must not contain a user name or password/],
      ['http://169.254.169.254/latest/meta-data', /cloud-metadata address, which is always/],
      ['http://0xa9fea9fe/', /cloud-metadata/],
      ['http://[fe80::1]:8080/', /a link-local address/],
      ['http://[fd00:ec2::254]/', /cloud-metadata/],
      ['http://[::ffff:169.254.169.254]/', /cloud-metadata/],
      ['http://100.100.100.200/', /cloud-metadata/],
      ['http://metadata.google.internal/computeMetadata/v1/', /cloud-metadata/],
      ['http://Metadata.Google.Internal./', /cloud-metadata/],
      ['not a url', /not an absolute URL/],
    ])('refuses %s', async (candidate, message) => {
      const error = await failureOf(() => assertSafeProviderBaseUrl(candidate));
      expect(error).toBeInstanceOf(UnsafeProviderUrlError);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('pass@');
    });

    it.each([
      'http://127.0.0.1:8080',
      'http://localhost:8080/jira',
      'http://10.0.0.5',
      'https://192.168.1.10',
      'http://[::1]:8080',
    ])('allows loopback and private %s when the operator allowed it', async (candidate) => {
      const allowedHosts = ['127.0.0.1', 'localhost', '10.0.0.0/8', '192.168.0.0/16', '::1'];
      await expect(assertSafeProviderBaseUrl(candidate, { allowedHosts })).resolves.toBeInstanceOf(
        URL,
      );
    });

    it('checks every address a name resolves to', async () => {
      const lookup = () =>
        Promise.resolve([
          { address: '10.0.0.1', family: 4 },
          { address: '169.254.169.254', family: 4 },
        ]);
      const error = await failureOf(() =>
        assertSafeProviderBaseUrl('https://jira.evil.test', { lookup }),
      );
      expect(error.message).toBe(
        'The provider host jira.evil.test resolves to a cloud-metadata address, which is always refused.',
      );
    });

    it('stops a client before it sends anything to a refused URL', async () => {
      const client = createProviderClient(
        { providerType: 'openproject', baseUrl: 'http://169.254.169.254', apiToken: 'k' },
        fastHttp,
      );
      await expect(client.checkCredentials()).rejects.toBeInstanceOf(UnsafeProviderUrlError);
    });

    it('re-checks at connect time, so a name that rebinds to a metadata address is refused', async () => {
      const port = new URL(url).port;
      let answers = 0;
      const rebinding = () =>
        Promise.resolve([
          { address: answers++ === 0 ? '127.0.0.1' : '169.254.169.254', family: 4 },
        ]);
      const rebound = createProviderClient(
        { providerType: 'jira_server', baseUrl: `http://jira.rebind.test:${port}`, apiToken: 't' },
        { ...fastHttp, lookup: rebinding },
      );
      const error = await failureOf(() => rebound.checkCredentials());
      expect(error).toBeInstanceOf(UnsafeProviderUrlError);
      expect(hits).toHaveLength(0);

      handler = (_req, res) => json(res, 200, { name: 'alice', displayName: 'Alice' });
      const stable = createProviderClient(
        { providerType: 'jira_server', baseUrl: `http://jira.stable.test:${port}`, apiToken: 't' },
        { ...fastHttp, lookup: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]) },
      );
      await expect(stable.checkCredentials()).resolves.toMatchObject({ id: 'alice' });
      expect(hits).toHaveLength(1);
    });
  });
});
