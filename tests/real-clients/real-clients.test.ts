import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCliSandbox,
  freePort,
  type CliSandbox,
  type LongRunning,
} from '../desktop/cli-harness.js';
import { registerAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ensureInstalled, realClients, type RealClient } from './installed-clients.js';

/**
 * The real clients read what `pm-mcp configure <client>` wrote and report, with their own
 * command line, whether pm-server connects — through the running loopback proxy to the real
 * server. With the proxy stopped the same command must report a failure (the negative control
 * that proves the check can fail). Clients are installed from npm into a cache outside the repo.
 */

interface Run {
  code: number | null;
  output: string;
}

let server: TestServer;
let cli: CliSandbox;
let proxy: LongRunning | undefined;
let port: number;
const bins = new Map<string, string>();
let projectDir: string;

function runClient(bin: string, args: string[], timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      {
        cwd: projectDir,
        timeout: timeoutMs,
        maxBuffer: 8 * 1024 * 1024,
        env: {
          ...cli.env,
          // No telemetry, no update checks, no prompts: these runs are offline apart from loopback.
          DISABLE_TELEMETRY: '1',
          DISABLE_AUTOUPDATER: '1',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          GEMINI_CLI_NO_RELAUNCH: 'true',
          OPENCODE_DISABLE_AUTOUPDATE: '1',
          OPENCODE_DISABLE_SHARE: '1',
          NO_COLOR: '1',
          CI: '1',
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

beforeAll(async () => {
  // Installs are cached; the first run downloads (minutes), later runs reuse them.
  for (const client of realClients) bins.set(client.id, await ensureInstalled(client));
  server = await startTestServer();
  cli = createCliSandbox();
  projectDir = path.join(cli.home, 'work', 'project');
  mkdirSync(projectDir, { recursive: true });
  const account = await registerAccount(server.url);
  const login = await cli.run(
    ['login', '--server', server.url, '--email', account.email, '--password-stdin'],
    { input: `${account.password}\n` },
  );
  expect(login.code, login.stderr).toBe(0);
  port = await freePort();
  proxy = await cli.spawnLong(['proxy', '--port', String(port)], /Proxy listening/);
}, 30 * 60_000);

afterAll(async () => {
  await proxy?.interrupt();
  cli.cleanup();
  await server.stop();
});

// What each client's listing says about pm-server, connected or not (ANSI colours stripped).
const expectations: Record<
  RealClient['id'],
  | { connected: (url: string) => RegExp; failed: RegExp }
  | { noHealthCheck: string; listed: (url: string) => RegExp }
> = {
  'claude-code': {
    connected: (url) => new RegExp(`pm-server: ${escape(url)} \\(HTTP\\) - ✔ Connected`),
    failed: /pm-server: \S+ \(HTTP\) - ✘ Failed to connect/,
  },
  'gemini-cli': {
    connected: (url) => new RegExp(`✓ pm-server: ${escape(url)} \\(http\\) - Connected`),
    failed: /pm-server: \S+ \(http\) - Disconnected/,
  },
  'qwen-code': {
    connected: (url) => new RegExp(`✓ pm-server: ${escape(url)} \\(http\\) - Connected`),
    failed: /pm-server: \S+ \(http\) - Disconnected/,
  },
  opencode: {
    connected: () => /✓ pm-server\s+connected/,
    failed: /pm-server\s+failed/,
  },
  codex: {
    noHealthCheck:
      '`codex mcp list` only prints the configuration (url, auth kind, enabled); Codex has no ' +
      'command that connects to a server outside a model session, so only its reading of ' +
      'config.toml is checked here, not the connection.',
    listed: (url) => new RegExp(`pm-server\\s+${escape(url)}\\s+-\\s+enabled\\s+Bearer token`),
  },
};

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;]*m/g;

async function listServers(client: RealClient): Promise<Run> {
  const run = await runClient(bins.get(client.id) ?? '', ['mcp', 'list']);
  return { code: run.code, output: run.output.replace(ansi, '') };
}

describe('pm-mcp configure over a direct key (issue 10, item 7)', { timeout: 120_000 }, () => {
  it('warns with the key prefix to revoke, and the backup holds no key', async () => {
    const direct = await cli.run(['configure', 'cursor', '--direct']);
    expect(direct.code, direct.stderr).toBe(0);
    const file = path.join(cli.home, '.cursor', 'mcp.json');
    const key = /mcp_[0-9A-Za-z]{49}/.exec(readFileSync(file, 'utf8'))?.[0] ?? '';
    expect(key).not.toBe('');

    const proxied = await cli.run(['configure', 'cursor']);
    expect(proxied.code, proxied.stderr).toBe(0);
    expect(proxied.stderr).toContain(`Warning: the MCP key ${key.slice(0, 12)}…`);
    expect(proxied.stderr).toContain(`pm-mcp keys revoke ${key.slice(0, 12)}`);
    expect(`${proxied.stdout}${proxied.stderr}`).not.toContain(key);
    expect(readFileSync(file, 'utf8')).not.toContain(key);
    expect(readFileSync(`${file}.pm-mcp.bak`, 'utf8')).not.toContain(key);
  });
});

describe('pm-mcp configure jetbrains', { timeout: 120_000 }, () => {
  it('writes nothing and prints the JSON to paste: the bridge, no secret', async () => {
    const result = await cli.run(['configure', 'jetbrains']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'JetBrains AI Assistant: nothing written; paste the JSON below',
    );
    const json = result.stdout.slice(result.stdout.indexOf('{'));
    const pasted = JSON.parse(json) as { mcpServers: Record<string, { args: string[] }> };
    expect(pasted.mcpServers['pm-server']?.args).toContain('bridge');
    expect(result.stdout).not.toMatch(/mcp_[0-9A-Za-z]{20,}/);
    expect(result.stdout).not.toMatch(/Bearer /);
  });
});

describe('real clients read what pm-mcp configure wrote', { timeout: 300_000 }, () => {
  it.each(realClients.map((c) => [c.label, c] as const))(
    '%s: configured through the running proxy, its own check of pm-server passes',
    async (_label, client: RealClient) => {
      const configured = await cli.run(['configure', client.id]);
      expect(configured.code, configured.stderr).toBe(0);
      if (client.id === 'gemini-cli') {
        // Gemini CLI connects to a project's servers only in a folder the user trusts.
        writeFileSync(
          path.join(cli.home, '.gemini', 'trustedFolders.json'),
          JSON.stringify({ [projectDir]: 'TRUST_FOLDER' }),
        );
      }
      const url = `http://127.0.0.1:${port}/mcp`;
      const listed = await listServers(client);
      const expected = expectations[client.id];
      if ('noHealthCheck' in expected) {
        console.log(`${client.label}: connection not checked — ${expected.noHealthCheck}`);
        expect(listed.output).toMatch(expected.listed(url));
        return;
      }
      expect(listed.output).toMatch(expected.connected(url));
    },
  );
});

describe(
  'negative control: with the proxy stopped, the same check fails',
  { timeout: 300_000 },
  () => {
    beforeAll(async () => {
      await proxy?.interrupt();
      proxy = undefined;
    });

    it.each(realClients.map((c) => [c.label, c] as const))(
      '%s',
      async (_label, client: RealClient) => {
        const expected = expectations[client.id];
        if ('noHealthCheck' in expected) {
          console.log(`${client.label}: no negative control — ${expected.noHealthCheck}`);
          return;
        }
        const listed = await listServers(client);
        expect(listed.output).toMatch(expected.failed);
        expect(listed.output).not.toMatch(expected.connected(`http://127.0.0.1:${port}/mcp`));
      },
    );
  },
);
