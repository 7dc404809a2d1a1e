/**
 * `npm run demo`: a SANDBOX to try PM MCP without a real Jira or OpenProject. Starts fake Jira
 * Cloud, Jira Data Center and OpenProject servers on 127.0.0.1 (tests/fakes), the real PM MCP
 * server on a throwaway SQLite database, a demo account with one connection to each fake, and
 * prints a ready Cursor configuration. Nothing here reaches a real provider. Ctrl-C stops it all.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServerApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { startSandboxProviders } from './fakes/sandbox.js';

async function post<T>(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-demo-'));
  const providers = await startSandboxProviders();
  const app = createServerApp(
    loadConfig({
      PORT: process.env.PORT ?? '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${path.join(folder, 'demo.sqlite')}`,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The sandbox providers listen on loopback, refused as a provider address by default.
      PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
    }),
  );
  const stop = async () => {
    await app.stop();
    await providers.stop();
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    const { url } = await app.start();
    const email = 'demo@pm-mcp.example';
    const password = randomBytes(9).toString('base64url');
    const session = await post<{ access_token: string }>(`${url}/api/auth/register`, {
      email,
      password,
      name: 'Demo User',
    });
    const auth = { authorization: `Bearer ${session.access_token}` };
    for (const connection of providers.connections) {
      await post(
        `${url}/api/users/me/providers`,
        {
          provider_type: connection.providerType,
          name: connection.name,
          base_url: connection.baseUrl,
          email: connection.email,
          api_token: connection.apiToken,
        },
        auth,
      );
    }
    const key = await post<{ api_key: string }>(
      `${url}/api/users/me/mcp-keys`,
      { name: 'demo' },
      auth,
    );
    const cursorConfig = {
      mcpServers: { 'pm-server': { url: `${url}/mcp`, headers: { 'X-MCP-API-Key': key.api_key } } },
    };
    process.stdout.write(
      [
        '',
        '  PM MCP — SANDBOX DEMO (fake Jira Cloud, Jira Data Center and OpenProject; no real data)',
        '',
        `  Server:    ${url}`,
        `  Account:   ${email} / ${password}   (sandbox only; gone when this stops)`,
        `  Providers: ${providers.connections.map((connection) => connection.name).join(', ')}`,
        '',
        '  Cursor configuration (~/.cursor/mcp.json) — a sandbox key, valid while this runs:',
        '',
        JSON.stringify(cursorConfig, null, 2).replace(/^/gm, '    '),
        '',
        '  Or with the desktop core: npm run cli -- login --server ' + url + ' --email ' + email,
        '  Ask your editor: "list my projects", "what is assigned to me".  Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const shutdown = () => {
    void stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
