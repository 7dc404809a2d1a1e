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
  /** Every log line the server wrote (tests check that no secret ever appears). */
  logs: string[];
  stop(): Promise<void>;
}

export interface TestServerOptions extends Omit<ServerAppOptions, 'logDestination' | 'database'> {
  database?: DatabaseKind;
  env?: Record<string, string>;
  onQuery?: (sql: string) => void;
}

/** Cheap scrypt parameters: the hashing code is the same, the cost is a test's, not OWASP's. */
export const testPasswordCost = { N: 2 ** 12, r: 8, p: 1 };

/** The real server, in-process, on 127.0.0.1 port 0 with a fresh database of the chosen kind. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const kind = options.database ?? 'sqlite';
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-server-'));
  const pgSchema = kind === 'postgres' ? await createPostgresSchema() : undefined;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL:
      kind === 'postgres' ? postgresUrl : `sqlite:${path.join(folder, 'pm-mcp.sqlite')}`,
    PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const { database: _database, env: _env, onQuery, ...appOptions } = options;
  const app = createServerApp(config, {
    passwordCost: testPasswordCost,
    ...appOptions,
    logDestination,
    database: { ...(pgSchema ? { schema: pgSchema.schema } : {}), ...(onQuery ? { onQuery } : {}) },
  });
  const { url } = await app.start();
  return {
    url,
    app,
    logs,
    async stop() {
      await app.stop();
      await pgSchema?.drop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
