import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, registerAccount } from '../support/http.js';
import { startOAuthTestServer } from '../support/oauth.js';
import type { TestServer } from '../support/server.js';

const run = promisify(execFile);

/**
 * The real Claude Code CLI, installed by this test (never a project dependency) into a cache
 * folder outside the repository and reused when present. `claude mcp list` health-checks every
 * configured server without an Anthropic account.
 */
const cacheFolder = path.join(homedir(), '.cache', 'pm-mcp-test-clients', 'claude-code');
const claudeBin = path.join(cacheFolder, 'node_modules', '.bin', 'claude');

async function ensureClaudeCode(): Promise<void> {
  if (existsSync(claudeBin)) return;
  mkdirSync(cacheFolder, { recursive: true });
  if (!existsSync(path.join(cacheFolder, 'package.json'))) {
    writeFileSync(path.join(cacheFolder, 'package.json'), '{"private":true}\n');
  }
  await run('npm', ['install', '--no-audit', '--no-fund', '@anthropic-ai/claude-code'], {
    cwd: cacheFolder,
    timeout: 600_000,
  });
  if (!existsSync(claudeBin)) throw new Error(`npm installed no claude binary at ${claudeBin}`);
}

describe('Claude Code against the server with OAuth on', () => {
  let server: TestServer;
  let home: string;

  beforeAll(async () => {
    await ensureClaudeCode();
    server = await startOAuthTestServer();
    home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-claude-home-'));
  }, 660_000);

  afterAll(async () => {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const claude = (args: string[]) =>
    run(claudeBin, args, {
      cwd: home,
      timeout: 180_000,
      env: {
        ...process.env,
        HOME: home,
        CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
        DISABLE_AUTOUPDATER: '1',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
    });

  it('keeps an entry with X-MCP-API-Key connected and shows the one without a key needs authentication', async () => {
    const account = await registerAccount(server.url);
    const key = await createKey(server.url, account);
    const url = `${server.url}/mcp`;
    await claude([
      'mcp',
      'add',
      '--transport',
      'http',
      '--scope',
      'user',
      'pm-key',
      url,
      '--header',
      `X-MCP-API-Key: ${key.api_key}`,
    ]);
    await claude(['mcp', 'add', '--transport', 'http', '--scope', 'user', 'pm-oauth', url]);

    const { stdout } = await claude(['mcp', 'list']);
    const line = (name: string) =>
      stdout.split('\n').find((entry) => entry.startsWith(`${name}:`)) ?? '';
    expect(line('pm-key')).toMatch(/Connected/);
    expect(line('pm-oauth')).toMatch(/Needs authentication/i);
    expect(stdout).not.toContain(key.api_key);
  }, 400_000);
});
