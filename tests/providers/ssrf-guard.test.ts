import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ProviderAuthError,
  ProviderNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
  UnsafeProviderUrlError,
} from '../../server/providers/errors.js';
import {
  assertSafeProviderBaseUrl,
  checkProviderCredentials,
  createProviderClient,
  type ProviderHttpOptions,
} from '../../server/providers/index.js';
import { startFakeJiraDataCenter, type JiraFake } from '../fakes/jira-data-center.js';
import {
  closedPort,
  startRecordingServer,
  type RecordingServer,
} from '../support/recording-server.js';
import { defined, expectNoSecretIn, failureOf, fastHttp } from './support.js';

/**
 * Issue 10, item 1: a provider `base_url` must not reach loopback, private, unique-local,
 * link-local, CGNAT, unspecified or multicast addresses (in any spelling) unless the operator
 * allows them in PM_MCP_PROVIDER_ALLOWED_HOSTS; the check holds on the address actually
 * connected to; and a base URL not yet verified never gets its body or redirect target echoed.
 */

const operatorHint = /ask the server's operator to allow it in PM_MCP_PROVIDER_ALLOWED_HOSTS/;
const token = 'ssrf-test-token-4f1d';
/** The tests' usual options allow the loopback fakes; these allow nothing. */
const noAllowList: ProviderHttpOptions = { ...fastHttp, allowedHosts: [] };
/** A name → addresses table standing in for DNS (the machine has none). */
const fakeDns =
  (table: Record<string, string[]>) =>
  (hostname: string): Promise<{ address: string; family: number }[]> => {
    const addresses = table[hostname];
    if (!addresses) return Promise.reject(new Error(`getaddrinfo ENOTFOUND ${hostname}`));
    return Promise.resolve(
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };

describe('the provider base-URL guard refuses non-public addresses by default', () => {
  it.each([
    // loopback, in the spellings WHATWG URL normalises to 127.0.0.1
    ['loopback', 'http://127.0.0.1:8080'],
    ['loopback', 'http://127.8.9.10/'],
    ['loopback (decimal)', 'http://2130706433/'],
    ['loopback (hex)', 'http://0x7f000001/'],
    ['loopback (octal)', 'http://0177.0.0.1/'],
    ['loopback (short)', 'http://127.1/'],
    ['loopback (mixed)', 'http://0x7f.1/'],
    ['loopback IPv6', 'http://[::1]:8080/'],
    ['unspecified', 'http://0.0.0.0:8080/'],
    ['unspecified (short)', 'http://0/'],
    ['unspecified IPv6', 'http://[::]/'],
    ['private 10/8', 'http://10.0.0.5/'],
    ['private 172.16/12', 'http://172.16.0.1/'],
    ['private 172.16/12 (top)', 'http://172.31.255.254/'],
    ['private 192.168/16', 'https://192.168.1.10/'],
    ['CGNAT', 'http://100.64.0.1/'],
    ['CGNAT (top)', 'http://100.127.255.254/'],
    ['link-local', 'http://169.254.10.10/'],
    ['link-local IPv6', 'http://[fe80::1]/'],
    ['unique-local', 'http://[fc00::1]/'],
    ['unique-local', 'http://[fd12:3456:789a::1]/'],
    ['multicast', 'http://224.0.0.1/'],
    ['multicast', 'http://239.255.255.250/'],
    ['multicast IPv6', 'http://[ff02::1]/'],
    ['broadcast', 'http://255.255.255.255/'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped loopback (hex)', 'http://[::ffff:7f00:1]/'],
    ['IPv4-mapped private', 'http://[0:0:0:0:0:ffff:c0a8:101]/'],
    ['IPv4-compatible loopback', 'http://[::127.0.0.1]/'],
    ['IPv4-compatible private', 'http://[::10.0.0.1]/'],
    ['NAT64 of loopback', 'http://[64:ff9b::127.0.0.1]/'],
    ['NAT64 of private', 'http://[64:ff9b::a00:1]/'],
    ['NAT64 of CGNAT', 'http://[64:ff9b::6440:1]/'],
  ])('refuses %s: %s, and says whom to ask', async (_class, candidate) => {
    const error = await failureOf(
      () => assertSafeProviderBaseUrl(candidate),
      UnsafeProviderUrlError,
    );
    expect(error.code).toBe('provider_url_refused');
    expect(error.message).toMatch(operatorHint);
  });

  it.each([
    'http://8.8.8.8/',
    'http://100.63.255.255/',
    'http://100.128.0.1/',
    'http://172.32.0.1/',
    'http://[2606:4700:4700::1111]/',
    'http://[64:ff9b::8.8.8.8]/',
  ])('allows the public address %s', async (candidate) => {
    await expect(assertSafeProviderBaseUrl(candidate)).resolves.toBeInstanceOf(URL);
  });

  it('refuses a name that resolves to loopback (localhost, from the hosts file)', async () => {
    const error = await failureOf(
      () => assertSafeProviderBaseUrl('http://localhost:8080/jira'),
      UnsafeProviderUrlError,
    );
    expect(error.message).toMatch(/The provider host localhost resolves to a loopback address/);
    expect(error.message).toMatch(operatorHint);
  });

  it('refuses a name when any address it resolves to is private', async () => {
    const lookup = fakeDns({ 'jira.example.test': ['93.184.215.14', '10.1.2.3'] });
    const error = await failureOf(
      () => assertSafeProviderBaseUrl('https://jira.example.test', { lookup }),
      UnsafeProviderUrlError,
    );
    expect(error.message).toMatch(/jira\.example\.test resolves to a private address/);
  });
});

describe('a provider client never sends its token to a refused address', () => {
  let target: RecordingServer;

  beforeAll(async () => {
    target = await startRecordingServer();
  });
  afterAll(async () => {
    await target.stop();
  });
  beforeEach(() => {
    target.calls.splice(0);
  });

  it.each([
    '0.0.0.0',
    '[::]',
    '127.0.0.1',
    '127.0.0.2',
    '[::1]',
    'localhost',
    '2130706433',
    '[::ffff:127.0.0.1]',
  ])('%s: refused before anything is sent', async (host) => {
    for (const providerType of ['jira_server', 'openproject'] as const) {
      const client = createProviderClient(
        { providerType, baseUrl: target.urlVia(host), apiToken: token },
        noAllowList,
      );
      const error = await failureOf(() => client.checkCredentials(), UnsafeProviderUrlError);
      expect(error.message).toMatch(operatorHint);
      expectNoSecretIn(error, token);
    }
    expect(target.calls).toEqual([]);
  });

  it('gives a closed loopback port the same refusal as an open one (no port scanning)', async () => {
    const closed = await closedPort();
    const refusal = async (port: number): Promise<string> => {
      const client = createProviderClient(
        { providerType: 'jira_server', baseUrl: `http://127.0.0.1:${port}`, apiToken: token },
        noAllowList,
      );
      const error = await failureOf(() => client.checkCredentials(), UnsafeProviderUrlError);
      return error.message.replace(String(port), '<port>');
    };
    const open = await refusal(target.port);
    expect(await refusal(closed)).toBe(open);
    expect(open).not.toMatch(/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/);
    expect(target.calls).toEqual([]);
  });

  it('re-checks at connect: a name that passes the first look-up and then resolves to loopback is refused', async () => {
    let answers = 0;
    const rebinding = (): Promise<{ address: string; family: number }[]> =>
      Promise.resolve([{ address: answers++ === 0 ? '93.184.215.14' : '127.0.0.1', family: 4 }]);
    const client = createProviderClient(
      {
        providerType: 'jira_server',
        baseUrl: `http://jira.rebind.test:${target.port}`,
        apiToken: token,
      },
      { ...noAllowList, lookup: rebinding },
    );
    const error = await failureOf(() => client.checkCredentials(), UnsafeProviderUrlError);
    expect(error.message).toMatch(/jira\.rebind\.test resolves to a loopback address/);
    expect(answers).toBe(2);
    expect(target.calls).toEqual([]);
  });

  it('re-checks on every connect, not only the first', async () => {
    let address = '127.0.0.1';
    const lookup = (): Promise<{ address: string; family: number }[]> =>
      Promise.resolve([{ address, family: 4 }]);
    const options: ProviderHttpOptions = {
      ...fastHttp,
      lookup,
      allowedHosts: ['127.0.0.1/32'],
    };
    const client = createProviderClient(
      {
        providerType: 'jira_server',
        baseUrl: `http://jira.moving.test:${target.port}`,
        apiToken: token,
      },
      options,
    );
    target.answer((_req, res) => {
      // One connection per request, so the next request connects (and looks up) again.
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ name: 'alice', displayName: 'Alice' }));
    });
    await client.checkCredentials();
    expect(target.calls).toHaveLength(1);
    address = '127.0.0.2';
    const error = await failureOf(() => client.checkCredentials(), UnsafeProviderUrlError);
    expect(error.message).toMatch(/jira\.moving\.test resolves to a loopback address/);
    expect(target.calls).toHaveLength(1);
  });
});

describe('PM_MCP_PROVIDER_ALLOWED_HOSTS lets the operator allow private hosts', () => {
  let jira: JiraFake;
  let other: RecordingServer;
  const alice = () => defined(jira.state.users[0], 'alice');
  const port = () => new URL(jira.url).port;

  beforeAll(async () => {
    jira = await startFakeJiraDataCenter();
    other = await startRecordingServer({ host: '127.0.0.2' });
  });
  afterAll(async () => {
    await Promise.all([jira.stop(), other.stop()]);
  });
  beforeEach(() => {
    other.calls.splice(0);
  });

  const check = (baseUrl: string, options: ProviderHttpOptions) =>
    checkProviderCredentials(
      { providerType: 'jira_server', baseUrl, apiToken: alice().token },
      { ...fastHttp, ...options },
    );

  it('a CIDR range allows the addresses inside it and nothing else', async () => {
    const allowed = { allowedHosts: ['127.0.0.1/32'] };
    await expect(check(jira.url, allowed)).resolves.toMatchObject({ ok: true });
    // localhost resolves (hosts file) to 127.0.0.1, inside the range.
    await expect(check(`http://localhost:${port()}`, allowed)).resolves.toMatchObject({ ok: true });
    await expect(check(other.urlVia('127.0.0.2'), allowed)).rejects.toThrow(operatorHint);
    await expect(check('http://10.0.0.1/', allowed)).rejects.toThrow(operatorHint);
    await expect(check(`http://[::1]:${port()}`, allowed)).rejects.toThrow(operatorHint);
    expect(other.calls).toEqual([]);

    const wide = { allowedHosts: ['10.0.0.0/8', '127.0.0.0/8', '::1'] };
    await expect(check(other.urlVia('127.0.0.2'), wide)).resolves.toMatchObject({ ok: true });
    expect(other.calls).toHaveLength(1);
  });

  it('a host name allows that name (whatever it resolves to), not its address', async () => {
    const lookup = fakeDns({
      'jira.corp.test': ['127.0.0.1'],
      'wiki.corp.test': ['127.0.0.1'],
      'a.jira.corp.test': ['127.0.0.1'],
    });
    const allowed = { allowedHosts: ['JIRA.corp.test.'], lookup };
    await expect(check(`http://jira.corp.test:${port()}`, allowed)).resolves.toMatchObject({
      ok: true,
    });
    await expect(check(`http://wiki.corp.test:${port()}`, allowed)).rejects.toThrow(
      /wiki\.corp\.test resolves to a loopback address/,
    );
    await expect(check(`http://127.0.0.1:${port()}`, allowed)).rejects.toThrow(operatorHint);
    await expect(check(`http://a.jira.corp.test:${port()}`, allowed)).rejects.toThrow(operatorHint);
    const wildcard = { allowedHosts: ['*.corp.test'], lookup };
    await expect(check(`http://a.jira.corp.test:${port()}`, wildcard)).resolves.toMatchObject({
      ok: true,
    });
  });

  it('cloud-metadata addresses stay refused even inside an allowed range', async () => {
    const allowed = { allowedHosts: ['169.254.0.0/16', 'fd00::/8'] };
    await expect(check('http://169.254.169.254/', allowed)).rejects.toThrow(/cloud-metadata/);
    await expect(check('http://[fd00:ec2::254]/', allowed)).rejects.toThrow(/cloud-metadata/);
  });

  it('does not follow a redirect from an allowed host to a private one, nor say where it pointed', async () => {
    const redirecting = await startRecordingServer({
      host: '127.0.0.1',
      handler: (_req, res) => {
        res.writeHead(302, { location: `${other.urlVia('127.0.0.2')}/internal/admin?x=1` });
        res.end('<a href="/internal/admin">moved</a>');
      },
    });
    try {
      const client = createProviderClient(
        { providerType: 'jira_server', baseUrl: redirecting.urlVia('127.0.0.1'), apiToken: token },
        { ...fastHttp, allowedHosts: ['127.0.0.1'], hideUpstreamDetails: true },
      );
      const error = await failureOf(() => client.checkCredentials(), ProviderResponseError);
      expect(error.message).toMatch(/redirect/);
      expect(error.message).not.toMatch(/127\.0\.0\.2|internal|admin/);
      expect(redirecting.calls).toHaveLength(1);
      expect(other.calls).toEqual([]);
    } finally {
      await redirecting.stop();
    }
  });
});

describe('a base URL not yet verified never has the upstream answer echoed', () => {
  let upstream: RecordingServer;
  const secretText = 'INTERNAL-ONLY-7d2c';
  const hidden: ProviderHttpOptions = {
    ...fastHttp,
    maxAttempts: 1,
    allowedHosts: ['127.0.0.1'],
    hideUpstreamDetails: true,
  };

  beforeAll(async () => {
    upstream = await startRecordingServer({ host: '127.0.0.1' });
  });
  afterAll(async () => {
    await upstream.stop();
  });

  const answerWith =
    (status: number, body: string, contentType = 'application/json') =>
    () =>
      upstream.answer((_req, res) => {
        res.writeHead(status, { 'content-type': contentType });
        res.end(body);
      });

  it.each([
    [401, JSON.stringify({ errorMessages: [secretText] }), ProviderAuthError],
    [
      404,
      JSON.stringify({ message: secretText, errors: { [secretText]: 'x' } }),
      ProviderNotFoundError,
    ],
    [500, JSON.stringify({ errorMessages: [secretText] }), ProviderUnavailableError],
    [200, JSON.stringify({ [secretText]: { nested: secretText } }), ProviderResponseError],
    [200, `<html>${secretText}</html>`, ProviderResponseError],
  ] as const)('a %i answer is described by its status only', async (status, body, type) => {
    answerWith(status, body, body.startsWith('<') ? 'text/html' : 'application/json')();
    for (const providerType of ['jira', 'jira_server', 'openproject'] as const) {
      const client = createProviderClient(
        { providerType, baseUrl: upstream.urlVia('127.0.0.1'), email: 'a@b.c', apiToken: token },
        hidden,
      );
      const error = await failureOf(() => client.checkCredentials(), type);
      expect(error.message).not.toContain(secretText);
      expectNoSecretIn(error, secretText);
    }
  });

  it('a connection error does not name the system error (no port scanning inside allowed ranges)', async () => {
    const port = await closedPort();
    const client = createProviderClient(
      { providerType: 'jira_server', baseUrl: `http://127.0.0.1:${port}`, apiToken: token },
      hidden,
    );
    const error = await failureOf(() => client.checkCredentials(), ProviderUnavailableError);
    expect(error.message).toBe(
      `Could not reach Jira Data Center at http://127.0.0.1:${port}. Check the base URL and that the server is up.`,
    );
  });

  it('a verified connection still shows the provider its own reason', async () => {
    answerWith(401, JSON.stringify({ errorMessages: ['Token revoked by an admin.'] }))();
    const client = createProviderClient(
      { providerType: 'jira_server', baseUrl: upstream.urlVia('127.0.0.1'), apiToken: token },
      { ...hidden, hideUpstreamDetails: false },
    );
    const error = await failureOf(() => client.checkCredentials(), ProviderAuthError);
    expect(error.message).toContain('Token revoked by an admin.');
  });
});
