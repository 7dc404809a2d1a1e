import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createServerApp, type ServerApp, type ServerAppOptions } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createPostgresSchema, postgresUrl, type DatabaseKind } from './databases.js';

export interface TestServer {
  url: string;
  app: ServerApp;
  /** What a second instance needs to share this server's database (see `sameDatabaseAs`). */
  shared: { env: Record<string, string>; pgSchema: string | undefined };
  /** Every log line the server wrote (tests check that no secret ever appears). */
  logs: string[];
  stop(): Promise<void>;
}

export interface TestServerOptions extends Omit<ServerAppOptions, 'logDestination' | 'database'> {
  database?: DatabaseKind;
  env?: Record<string, string>;
  onQuery?: (sql: string) => void;
  /**
   * Another instance on this server's database (same PostgreSQL schema or SQLite file, same
   * secret key), as several instances behind a load balancer. The first server owns the
   * database: stop the second one first.
   */
  sameDatabaseAs?: TestServer;
}

/**
 * Every server a test starts has its logs checked when it stops: no MCP key, refresh token or
 * session JWT may ever be written. (Passwords and provider tokens are checked by the suites that
 * know them.) The error names what leaked, never the value.
 */
export function assertNoSecretsIn(text: string): void {
  const leaks = [
    ['an MCP API key', /mcp_[0-9A-Za-z]{20,}/],
    ['a refresh token', /pmr_[A-Za-z0-9_-]{20,}/],
    ['a session token', /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/],
  ] as const;
  for (const [what, pattern] of leaks) {
    if (pattern.test(text)) throw new Error(`The server logged ${what}`);
  }
}

/** Cheap scrypt parameters: the hashing code is the same, the cost is a test's, not OWASP's. */
export const testPasswordCost = { N: 2 ** 12, r: 8, p: 1 };

/** The real server, in-process, on 127.0.0.1 port 0 with a fresh database of the chosen kind. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const kind = options.database ?? 'sqlite';
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-server-'));
  const owner = options.sameDatabaseAs;
  const pgSchema =
    kind === 'postgres' && owner === undefined ? await createPostgresSchema() : undefined;
  const sharedEnv = owner?.shared.env ?? {
    DATABASE_URL:
      kind === 'postgres' ? postgresUrl : `sqlite:${path.join(folder, 'pm-mcp.sqlite')}`,
    PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
  };
  const schema = owner ? owner.shared.pgSchema : pgSchema?.schema;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    ...sharedEnv,
    LOG_LEVEL: 'info',
    // The provider fakes listen on loopback, which a provider base URL may not reach by default.
    PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
    ...options.env,
  });
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const {
    database: _database,
    env: _env,
    sameDatabaseAs: _owner,
    onQuery,
    ...appOptions
  } = options;
  const app = createServerApp(config, {
    passwordCost: testPasswordCost,
    // Suites register many accounts from 127.0.0.1; the registration limit has its own test.
    registrationLimit: { maxAttempts: 1000, windowMs: 60_000 },
    ...appOptions,
    logDestination,
    database: { ...(schema ? { schema } : {}), ...(onQuery ? { onQuery } : {}) },
  });
  const { url } = await app.start();
  return {
    url,
    app,
    shared: { env: sharedEnv, pgSchema: schema },
    logs,
    async stop() {
      await app.stop();
      assertNoSecretsIn(logs.join(''));
      await pgSchema?.drop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
