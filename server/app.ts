import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { DestinationStream } from 'pino';
import type { AccountService } from './auth/accounts.js';
import { Authenticator, type Principal } from './auth/authenticate.js';
import { createAttemptLimiter, type AttemptLimit } from './auth/failure-limiter.js';
import type {
  PasswordHashGate,
  PasswordHashingCapacity,
  PasswordHashingCost,
} from './auth/passwords.js';
import { authRoutes } from './auth/routes.js';
import type { ServerConfig } from './config.js';
import type { ConnectionService } from './connections/connections.js';
import { providerRoutes } from './connections/routes.js';
import { createDatabase, type DatabaseHandle, type DatabaseOptions } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import {
  authenticated,
  errorHandler,
  hostGuard,
  isLoopbackHost,
  originGuard,
} from './http/http.js';
import type { KeyService } from './keys/keys.js';
import { keyRoutes } from './keys/routes.js';
import { createLogger, redactSecrets, type Logger } from './log.js';
import { mcpRoutes } from './mcp/endpoints.js';
import type { ProviderHttpOptions } from './providers/index.js';
import { SessionRegistry } from './mcp/sessions.js';
import { registerServerTools } from './mcp/server-tools.js';
import { createAccountServices } from './services.js';
import { meRoutes } from './users/routes.js';
import { version } from './version.js';

export interface ServerAppOptions {
  /** Where logs go (default stdout). */
  logDestination?: DestinationStream;
  /** Lower than OWASP only in tests, to keep them fast. */
  passwordCost?: PasswordHashingCost;
  /** Failed authentications per address (and per key prefix) per window before 429. */
  authFailureLimit?: { maxFailures: number; windowMs: number };
  /** Registrations per address per window before 429. */
  registrationLimit?: AttemptLimit;
  /** Password hashes run at once and waiting, before 503 `server_busy`. */
  passwordHashing?: PasswordHashingCapacity;
  database?: DatabaseOptions;
  /** How often open sessions are checked against revocations made on other instances. */
  revocationSweepMs?: number;
  /** Provider HTTP behaviour (timeouts, retry waits); tests shorten them. */
  providerHttp?: ProviderHttpOptions;
  /** Per-provider timeout of fan-out tool calls. */
  providerTimeoutMs?: number;
  now?: () => Date;
}

export interface ServerApp {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly database: DatabaseHandle;
  readonly keys: KeyService;
  readonly accounts: AccountService;
  readonly connections: ConnectionService;
  readonly sessions: SessionRegistry;
  readonly passwordHashing: PasswordHashGate;
  readonly http: Express;
  /** Applies migrations, then listens on the configured host and port. */
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
}

/** The server's composition root: builds every service and wires them; `start` listens. */
export function createServerApp(config: ServerConfig, options: ServerAppOptions = {}): ServerApp {
  const now = options.now ?? (() => new Date());
  const logger = createLogger(config.logLevel, options.logDestination);
  const database = createDatabase(config.database, options.database);
  const { db } = database;

  const { accessTokens, keys, accounts, connections, passwordHashing } = createAccountServices(
    config,
    db,
    {
      now,
      passwordCost: options.passwordCost,
      passwordHashing: options.passwordHashing,
      registrationLimit: options.registrationLimit,
      providerHttp: options.providerHttp,
      onBackgroundError: (error) => logger.warn({ err: error }, 'could not record key use'),
    },
  );
  const authFailureLimit = options.authFailureLimit ?? { maxFailures: 30, windowMs: 5 * 60_000 };
  const authenticator = new Authenticator({
    db,
    keys,
    accessTokens,
    allowUserIdAuth: config.allowUserIdAuth,
    failures: createAttemptLimiter({ kind: database.kind, db }, 'auth', {
      maxAttempts: authFailureLimit.maxFailures,
      windowMs: authFailureLimit.windowMs,
    }),
    now,
  });
  const sessions = new SessionRegistry();
  keys.events.on('revoked', (keyId) => {
    void sessions.closeByKey(keyId);
  });

  // One JSON-schema validator for every session's server (each would otherwise build its own Ajv).
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const createMcpServer = (principal: Principal): McpServer => {
    const server = new McpServer(
      { name: 'pm-mcp', version },
      { jsonSchemaValidator, capabilities: { tools: {} } },
    );
    registerServerTools(server, {
      userId: principal.userId,
      scope: principal.scope,
      connections,
      providerHttp: options.providerHttp,
      perProviderTimeoutMs: options.providerTimeoutMs,
      onUnexpectedError: (error, tool) =>
        logger.error({ err: error, tool }, 'tool failed unexpectedly'),
    });
    return server;
  };

  const app = express();
  app.disable('x-powered-by');
  // Which X-Forwarded-For hops decide req.ip (the limiter's and the audit log's client address).
  // (A copy: Express's proxy-addr rewrites the list it is given.)
  app.set(
    'trust proxy',
    typeof config.trustProxy === 'number' ? config.trustProxy : [...config.trustProxy],
  );
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info(
        {
          method: req.method,
          url: redactSecrets(req.originalUrl),
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  });
  app.use(hostGuard(config));
  app.use(originGuard(config));
  app.get('/health', async (_req, res) => {
    try {
      await database.ping();
      res.json({ status: 'ok', database: 'ok', version });
    } catch (error) {
      logger.warn({ err: error }, 'health check: database unreachable');
      res.status(503).json({ status: 'error', database: 'error', version });
    }
  });
  const json = express.json({ limit: '1mb' });
  const requireAuth = authenticated(authenticator);
  app.use('/api/auth', json, authRoutes(accounts, { allowRegistration: config.allowRegistration }));
  app.use('/api/users/me/mcp-keys', requireAuth, json, keyRoutes(keys));
  app.use('/api/users/me/providers', requireAuth, json, providerRoutes(connections));
  app.use('/api/users/me', requireAuth, meRoutes(db));
  app.use(['/mcp', '/sse', '/messages'], requireAuth, json);
  app.use(mcpRoutes({ sessions, createServer: createMcpServer, logger }));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'No such endpoint' });
  });
  app.use(errorHandler(logger));

  let httpServer: Server | undefined;
  let sweep: NodeJS.Timeout | undefined;

  return {
    config,
    logger,
    database,
    keys,
    accounts,
    connections,
    sessions,
    passwordHashing,
    http: app,
    async start() {
      const report = await migrateToLatest(db, { schema: database.schema });
      if (report.applied.length > 0)
        logger.info({ migrations: report.applied }, 'migrations applied');
      if (report.legacyKeysHashed > 0)
        logger.info({ count: report.legacyKeysHashed }, 'legacy plaintext keys hashed');
      if (config.allowUserIdAuth) {
        logger.warn(
          'PM_MCP_ALLOW_USER_ID_AUTH=true: anyone who can reach this server can act as any user by id. Use only on a trusted network.',
        );
      }
      if (config.publicUrl === null && !isLoopbackHost(config.host)) {
        logger.warn(
          `HOST=${config.host} without PM_MCP_PUBLIC_URL: any Host header is accepted. Set PM_MCP_PUBLIC_URL to the server's external URL so that only its host is (DNS-rebinding protection).`,
        );
      }
      const server = app.listen(config.port, config.host);
      await once(server, 'listening');
      httpServer = server;
      // Revocations made on another instance close this instance's sessions on that key too.
      sweep = setInterval(() => {
        void keys
          .findUnusable(sessions.keyIds())
          .then((unusable) => Promise.all([...unusable].map((keyId) => sessions.closeByKey(keyId))))
          .catch((error: unknown) =>
            logger.warn({ err: error }, 'session revocation sweep failed'),
          );
      }, options.revocationSweepMs ?? 30_000);
      sweep.unref();
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      logger.info(
        { url, publicUrl: config.publicUrl, database: database.kind, version },
        'PM MCP server listening',
      );
      return { url };
    },
    async stop() {
      if (sweep) clearInterval(sweep);
      await sessions.closeAll();
      if (httpServer) {
        const server = httpServer;
        httpServer = undefined;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await database.close();
    },
  };
}
