import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import keytar from 'keytar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { desktopErrorCatalogue } from '../../main/errors.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import { connectMcpClient } from '../support/mcp.js';
import {
  authorizeInBrowser,
  launchChromium,
  startCallbackReceiver,
  startOAuthTestServer,
} from '../support/oauth.js';
import type { TestServer } from '../support/server.js';
import {
  cleanupsAfterEach,
  filesUnder,
  findSecrets,
  freePort,
  sandboxUntilCleanup,
  type CliSandbox,
  type LongRunning,
} from './cli-harness.js';

const cursorFileSchema = z.object({
  mcpServers: z.record(
    z.string(),
    z.object({ url: z.string(), headers: z.record(z.string(), z.string()) }),
  ),
});

const statusSchema = z.object({
  level: z.string(),
  summary: z.string(),
  keyHealth: z.string(),
  user: z.object({ email: z.string() }).nullable(),
  key: z.object({ id: z.string(), keyPrefix: z.string() }).nullable(),
  proxy: z.object({ running: z.boolean(), port: z.number() }),
  clients: z.array(z.object({ client: z.string(), state: z.string(), path: z.string() })),
});

let server: TestServer;
beforeAll(async () => {
  // OAuth on (its public URL is its loopback address), so editors can sign in and hold grants.
  server = await startOAuthTestServer();
});
afterAll(async () => {
  await server.stop();
});

const cleanups = cleanupsAfterEach();
const sandbox = (): CliSandbox => sandboxUntilCleanup(cleanups);

async function login(cli: CliSandbox, account: TestAccount): Promise<void> {
  const result = await cli.run(
    ['login', '--server', server.url, '--email', account.email, '--password-stdin'],
    { input: `${account.password}\n` },
  );
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`Signed in to ${server.url} as ${account.email}`);
  expect(result.stdout).not.toContain(account.password);
}

async function startProxy(cli: CliSandbox, port: number): Promise<LongRunning> {
  const proxy = await cli.spawnLong(['proxy', '--port', String(port)], /Proxy listening/);
  cleanups.push(() => proxy.interrupt());
  return proxy;
}

/** An MCP client built only from what Cursor's file says. */
async function clientFromCursorFile(cli: CliSandbox): Promise<Client> {
  const entry = cursorFileSchema.parse(
    JSON.parse(readFileSync(path.join(cli.home, '.cursor', 'mcp.json'), 'utf8')),
  ).mcpServers['pm-server'];
  if (!entry) throw new Error('no pm-server entry');
  const client = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(entry.url), {
      requestInit: { headers: entry.headers },
    }),
  );
  cleanups.push(() => client.close());
  return client;
}

const storedKey = async (cli: CliSandbox): Promise<string> =>
  (await keytar.getPassword(cli.keychainService, `${server.url}|mcp-key`)) ?? '';

const textOf = (result: unknown): string =>
  z
    .object({ content: z.array(z.object({ text: z.string().optional() })) })
    .parse(result)
    .content.map((c) => c.text ?? '')
    .join('\n');

// Each test starts several real CLI processes (tsx compiles on start): generous on a loaded machine.
describe('pm-mcp end to end', { timeout: 120_000 }, () => {
  it('login → keychain → configure cursor → proxy → an MCP client from mcp.json lists and calls tools', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);

    // The key is in the OS keychain (read back with keytar itself), nowhere on disk.
    const key = await storedKey(cli);
    expect(key).toMatch(/^mcp_[0-9A-Za-z]{49}$/);
    const refreshToken = await keytar.getPassword(
      cli.keychainService,
      `${server.url}|refresh-token`,
    );
    expect(refreshToken).toBeTruthy();

    const configured = await cli.run(['configure', 'cursor']);
    expect(configured.code).toBe(0);
    const cursorFile = path.join(cli.home, '.cursor', 'mcp.json');
    expect(configured.stdout).toContain(`Configured Cursor: ${cursorFile}`);

    const port = await freePort();
    const proxy = await startProxy(cli, port);

    const text = readFileSync(cursorFile, 'utf8');
    expect(text).not.toContain('mcp_');
    expect(statSync(cursorFile).mode & 0o777).toBe(0o600);
    const localToken = await keytar.getPassword(cli.keychainService, 'local-proxy-token');
    expect(cursorFileSchema.parse(JSON.parse(text)).mcpServers['pm-server']).toEqual({
      url: `http://127.0.0.1:${port}/mcp`,
      headers: { Authorization: `Bearer ${localToken ?? ''}` },
    });

    const client = await clientFromCursorFile(cli);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('list_providers');
    const providers = await client.callTool({ name: 'list_providers', arguments: {} });
    expect(textOf(providers)).toMatch(/connections yet/i);

    const status = statusSchema.parse(JSON.parse((await cli.run(['status', '--json'])).stdout));
    expect(status.level).toBe('connected');
    expect(status.user?.email).toBe(account.email);
    expect(status.proxy).toMatchObject({ running: true, port });
    expect(status.clients.find((c) => c.client === 'cursor')?.state).toBe('current');

    const human = await cli.run(['status']);
    expect(human.stdout).toMatch(/Status: +connected/);
    expect(human.stdout).toContain(`${status.key?.keyPrefix ?? '?'}…`);

    // No MCP key in the config folder or the client file (which holds only the local token);
    // no secret at all in the config folder.
    expect(findSecrets([...filesUnder(cli.configDir), cursorFile], [key])).toEqual([]);
    expect(
      findSecrets(filesUnder(cli.configDir), [key, localToken ?? '', refreshToken ?? '']),
    ).toEqual([]);
    expect(proxy.stderr()).not.toContain(key);

    // Ctrl-C stops it cleanly.
    expect(await proxy.interrupt()).toBe(0);
    expect(proxy.stderr()).toMatch(/SIGINT: stopping the proxy/);
  });

  it('after keys rotate, the running proxy uses the new key without a restart', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    await cli.run(['configure', 'cursor']);
    const proxy = await startProxy(cli, await freePort());
    const client = await clientFromCursorFile(cli);
    await client.listTools();
    const oldKey = await storedKey(cli);

    const rotated = await cli.run(['keys', 'rotate']);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/Rotated: this machine now uses mcp_/);
    const newKey = await storedKey(cli);
    expect(newKey).not.toBe(oldKey);
    expect(rotated.stdout + rotated.stderr).not.toContain(newKey);
    // The old key is dead on the server…
    const old = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': oldKey },
    });
    expect(old.status).toBe(401);
    // …and the proxy process, still running, has switched to the new one.
    await proxy.waitForStderr(/Now using this machine's new key/);
    const again = await clientFromCursorFile(cli);
    const result = await again.callTool({ name: 'list_providers', arguments: {} });
    expect(textOf(result)).toMatch(/connections yet/i);
    const keys = await request<{ keys: { key_prefix: string; last_used_at: string | null }[] }>(
      server.url,
      'GET',
      '/api/users/me/mcp-keys',
      { headers: { authorization: `Bearer ${account.accessToken}` } },
    );
    const fresh = keys.body.keys.find((k) => newKey.startsWith(k.key_prefix));
    expect(fresh?.last_used_at).not.toBeNull();
  });

  it('a key revoked from another session: status reports it rejected, the proxy notices', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    await cli.run(['configure', 'cursor']);
    const proxy = await startProxy(cli, await freePort());
    const before = statusSchema.parse(JSON.parse((await cli.run(['status', '--json'])).stdout));
    const keyId = before.key?.id ?? '';

    // Revoked from the user's other session (e.g. the web or another machine).
    const revoked = await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${keyId}`, {
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    expect(revoked.status).toBe(204);

    const after = statusSchema.parse(JSON.parse((await cli.run(['status', '--json'])).stdout));
    expect(after.keyHealth).toBe('rejected');
    expect(after.level).toBe('attention');
    expect(after.summary).toMatch(/revoked or has expired/);
    const human = await cli.run(['status']);
    expect(human.stdout).toMatch(/REJECTED by the server/);

    // Through the proxy, the MCP client is refused and the proxy tells the user.
    await expect(clientFromCursorFile(cli)).rejects.toThrow();
    await proxy.waitForStderr(/Warning: This machine's key was revoked or has expired/);
  });

  it('keys and providers commands; logout revokes the key and clears the keychain', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    const key = await storedKey(cli);

    const list = await cli.run(['keys', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/\(this machine\)/);
    expect(list.stdout).not.toContain(key);

    const none = await cli.run(['providers', 'list']);
    expect(none.stdout).toMatch(/No provider connections/);
    const token = `provider-token-${Date.now()}`;
    const refused = await cli.run(
      ['providers', 'add', '--type', 'openproject', '--name', 'OP', '--url', 'http://127.0.0.1:9'],
      { input: token },
    );
    // The provider cannot be reached: the server refuses the connection, with its reason.
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).not.toContain(token);

    const out = await cli.run(['logout']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/Signed out of .*this machine's key is revoked/);
    expect(await keytar.getPassword(cli.keychainService, `${server.url}|mcp-key`)).toBeNull();
    expect(await keytar.getPassword(cli.keychainService, `${server.url}|refresh-token`)).toBeNull();
    const use = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': key },
    });
    expect(use.status).toBe(401);
    const after = await cli.run(['keys', 'list']);
    expect(after.code).toBe(desktopErrorCatalogue.not_signed_in);
  });

  it('keys lists the editors signed in with OAuth beside the keys; keys limit <grant id> limits one, keys revoke <grant id> ends it', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const callback = await startCallbackReceiver();
    cleanups.push(() => callback.close());
    const editor = await authorizeInBrowser({
      serverUrl: server.url,
      context: await browser.newContext(),
      callback,
      signIn: account,
      clientName: 'Grant test editor',
      scope: 'pm:read',
    });
    const mcp = (accessToken: string) =>
      request(server.url, 'POST', '/mcp', {
        body: { jsonrpc: '2.0', id: 1, method: 'ping' },
        headers: {
          Authorization: `Bearer ${accessToken}`,
          Accept: 'application/json, text/event-stream',
        },
      });
    expect((await mcp(editor.access_token)).status).toBe(200);

    const listed = await cli.run(['keys']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/\(this machine\)/);
    expect(listed.stdout).toMatch(/Editors signed in with OAuth:\nID +CLIENT +SCOPES.*LIMITS/);
    expect(listed.stdout).toMatch(/Grant test editor +pm:read +\d{4}-.* none$/m);
    expect(listed.stdout).not.toContain(editor.access_token);
    const listedJson = async () =>
      z
        .object({
          keys: z.array(z.object({ id: z.string() })),
          grants: z.array(
            z.object({
              id: z.string(),
              clientName: z.string(),
              scopes: z.array(z.string()),
              lastUsedAt: z.string().nullable(),
              allowedTools: z.array(z.string()).nullable(),
              allowedProjects: z.array(z.string()).nullable(),
            }),
          ),
        })
        .parse(JSON.parse((await cli.run(['keys', '--json'])).stdout));
    const json = await listedJson();
    expect(json.keys).toHaveLength(1);
    expect(json.grants).toHaveLength(1);
    const grant = json.grants[0];
    expect(grant).toMatchObject({
      clientName: 'Grant test editor',
      scopes: ['pm:read'],
      allowedTools: null,
      allowedProjects: null,
    });
    expect(grant?.lastUsedAt).not.toBeNull();
    const toolsOfEditor = async () => {
      const client = await connectMcpClient(server.url, 'modern', {
        headers: { Authorization: `Bearer ${editor.access_token}` },
      });
      try {
        return (await client.listTools()).tools.map((tool) => tool.name).sort();
      } finally {
        await client.close();
      }
    };
    expect(await toolsOfEditor()).toContain('search_issues');

    // The grant's limits, set by its id as a key's are, shown in both listings and enforced at
    // the editor's next request (the same access token).
    const limited = await cli.run([
      'keys',
      'limit',
      grant?.id ?? '',
      '--tools',
      'list_providers, get_issue',
    ]);
    expect(limited.stderr).not.toMatch(/error/i);
    expect(limited.code).toBe(0);
    expect(limited.stdout).toContain(
      'Limits of the OAuth grant of Grant test editor: tools: list_providers, get_issue.',
    );
    expect((await listedJson()).grants[0]).toMatchObject({
      id: grant?.id,
      allowedTools: ['list_providers', 'get_issue'],
      allowedProjects: null,
    });
    expect((await cli.run(['keys'])).stdout).toMatch(
      /Grant test editor +pm:read .* tools: list_providers, get_issue$/m,
    );
    expect(await toolsOfEditor()).toEqual(['get_issue', 'list_providers']);
    const unknown = await cli.run(['keys', 'limit', grant?.id ?? '', '--tools', 'rm_rf']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('Unknown tool in allowed_tools: "rm_rf"');
    const cleared = await cli.run(['keys', 'limit', grant?.id ?? '', '--clear']);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toContain('Limits of the OAuth grant of Grant test editor: none.');
    expect(await toolsOfEditor()).toContain('search_issues');

    const revoked = await cli.run(['keys', 'revoke', grant?.id ?? '']);
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked the OAuth grant of Grant test editor');
    // The editor is refused at its next request; the key of this machine is untouched.
    expect((await mcp(editor.access_token)).status).toBe(401);
    const after = await cli.run(['keys', 'list']);
    expect(after.stdout).toContain('No editors signed in with OAuth.');
    expect(after.stdout).toMatch(/\(this machine\).*active/);
  });

  it("keys limit sets, shows and clears a key's limits; the server enforces them", async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    const other = await createKey(server.url, account, { name: 'ci runner' });

    const limited = await cli.run([
      'keys',
      'limit',
      other.key_prefix,
      '--tools',
      'search_issues, get_issue',
    ]);
    expect(limited.stderr).not.toMatch(/error/i);
    expect(limited.code).toBe(0);
    expect(limited.stdout).toContain('tools: search_issues, get_issue');
    const list = await cli.run(['keys', 'list']);
    expect(list.stdout).toMatch(/LIMITS/);
    expect(list.stdout).toMatch(/ci runner.*tools: search_issues, get_issue/);
    expect(list.stdout).toMatch(/\(this machine\).*none/);

    // The server applies them: an MCP client with that key sees the two tools only.
    const client = await connectMcpClient(server.url, 'modern', {
      headers: { 'X-MCP-API-Key': other.api_key },
    });
    cleanups.push(() => client.close());
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual([
      'get_issue',
      'search_issues',
    ]);

    const unknown = await cli.run(['keys', 'limit', other.id, '--tools', 'search_issues,rm_rf']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('Unknown tool in allowed_tools: "rm_rf"');
    const nothing = await cli.run(['keys', 'limit', other.id]);
    expect(nothing.code).toBe(desktopErrorCatalogue.usage);
    expect(nothing.stderr).toContain('Give --tools, --projects, or --clear');

    const cleared = await cli.run(['keys', 'limit', other.id, '--clear']);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toContain(': none.');
  });

  it('configure --direct, --project and unconfigure; logout elsewhere stops the proxy', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    const proxy = await startProxy(cli, await freePort());
    const key = await storedKey(cli);

    const direct = await cli.run(['configure', 'windsurf', '--direct']);
    expect(direct.code).toBe(0);
    const windsurfFile = path.join(cli.home, '.codeium', 'windsurf', 'mcp_config.json');
    expect(JSON.parse(readFileSync(windsurfFile, 'utf8'))).toEqual({
      mcpServers: {
        'pm-server': { serverUrl: `${server.url}/mcp`, headers: { 'X-MCP-API-Key': key } },
      },
    });
    expect(statSync(windsurfFile).mode & 0o777).toBe(0o600);
    expect(direct.stdout + direct.stderr).not.toContain(key);

    // A relative --project is resolved against the working directory (the sandbox's HOME).
    const project = await cli.run(['configure', 'cursor', '--project', 'work/app']);
    expect(project.code).toBe(0);
    const projectFile = path.join(cli.home, 'work', 'app', '.cursor', 'mcp.json');
    const projectText = readFileSync(projectFile, 'utf8');
    expect(projectText).toContain('${env:PM_MCP_LOCAL_TOKEN}');
    expect(projectText).not.toContain('mcp_');

    const removed = await cli.run(['unconfigure', 'cursor', '--project', 'work/app']);
    expect(removed.code).toBe(0);
    expect(JSON.parse(readFileSync(projectFile, 'utf8'))).toEqual({ mcpServers: {} });

    const status = statusSchema.parse(JSON.parse((await cli.run(['status', '--json'])).stdout));
    expect(status.clients.find((c) => c.client === 'windsurf')?.state).toBe('current');

    // Signing out from another command stops the running proxy process cleanly.
    expect((await cli.run(['logout'])).code).toBe(0);
    await proxy.waitForStderr(/Signed out \(by another pm-mcp or the app\): stopping the proxy/);
    expect(await proxy.exited).toBe(0);
  });

  it('configure over a file holding a plain-text key: the backup drops it, --revoke-exposed revokes it', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    // An older setup pasted a key of this account straight into Cursor's file.
    const pasted = await createKey(server.url, account, { name: 'pasted into Cursor' });
    const cursorDir = path.join(cli.home, '.cursor');
    mkdirSync(cursorDir, { recursive: true });
    writeFileSync(
      path.join(cursorDir, 'mcp.json'),
      JSON.stringify({
        mcpServers: {
          'pm-server': { url: `${server.url}/mcp`, headers: { 'X-MCP-API-Key': pasted.api_key } },
        },
      }),
    );
    const configured = await cli.run(['configure', 'cursor', '--revoke-exposed']);
    expect(configured.code).toBe(0);
    expect(configured.stdout).toContain(`Revoked ${pasted.key_prefix}… "pasted into Cursor"`);
    expect(configured.stdout + configured.stderr).not.toContain(pasted.api_key);
    for (const file of readdirSync(cursorDir)) {
      expect(readFileSync(path.join(cursorDir, file), 'utf8')).not.toContain(pasted.api_key);
    }
    const me = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': pasted.api_key },
    });
    expect(me.status).toBe(401);
  });

  it('pm-mcp bridge speaks MCP over stdio to the proxy (Claude Desktop)', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    await login(cli, account);
    await startProxy(cli, await freePort());
    const configured = await cli.run(['configure', 'claude-desktop']);
    expect(configured.code).toBe(0);
    const file = path.join(cli.home, '.config', 'Claude', 'claude_desktop_config.json');
    const entry = z
      .object({
        mcpServers: z.record(
          z.string(),
          z.object({ command: z.string(), args: z.array(z.string()) }),
        ),
      })
      .parse(JSON.parse(readFileSync(file, 'utf8'))).mcpServers['pm-server'];
    expect(entry?.command).toBe(process.execPath);
    expect(entry?.args.at(-1)).toBe('bridge');
    expect(readFileSync(file, 'utf8')).not.toContain('mcp_');

    // Run exactly what Claude Desktop would run, with the sandbox's environment.
    const client = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: entry?.command ?? '',
        args: entry?.args ?? [],
        env: cli.env,
        stderr: 'pipe',
      }),
    );
    cleanups.push(() => client.close());
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('list_providers');
    const result = await client.callTool({ name: 'list_providers', arguments: {} });
    expect(textOf(result)).toMatch(/connections yet/i);
  });
});
