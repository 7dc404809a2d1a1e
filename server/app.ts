import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import { McpServer } from '@modelcontextprotocol/server';
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
import { ProviderClientCache } from './connections/provider-clients.js';
import { providerRoutes } from './connections/routes.js';
import { createDatabase, type DatabaseHandle, type DatabaseOptions } from './db/database.js';
import { migrateToLatest, pendingMigrations } from './db/migrate.js';
import {
  LocalClusterEvents,
  PostgresClusterEvents,
  type ClusterEvents,
} from './cluster/cluster-events.js';
import {
  authenticated,
  authenticatedIfPresented,
  errorHandler,
  hostGuard,
  isLoopbackHost,
  originGuard,
  refuseQueryKeys,
} from './http/http.js';
import type { KeyService } from './keys/keys.js';
import { KeyLookupCache } from './keys/key-cache.js';
import { keyRoutes } from './keys/routes.js';
import { createLogger, redactSecrets, type Logger } from './log.js';
import { HttpDrain, settlesWithin } from './http/drain.js';
import { mcpRoutes } from './mcp/endpoints.js';
import type { ProviderHttpOptions } from './providers/index.js';
import { SseStreams, type SseStreamLimits } from './mcp/sse-streams.js';
import { registerServerTools } from './mcp/server-tools.js';
import { createAccountServices, providerHttpOptions } from './services.js';
import { meRoutes } from './users/routes.js';
import { GrantService } from './oauth/grants.js';
import { SsoService } from './sso/sso.js';
import {
  createOAuthServer,
  grantRoutes,
  mcpAuthenticated,
  oauthErrorHandler,
  type OAuthServer,
} from './oauth/oauth-http.js';
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
  /**
   * How often open SSE streams are checked against the database for revoked or expired keys (a
   * safety net: revocations close streams at once through events).
   */
  revocationSweepMs?: number;
  /** Legacy SSE stream caps and timers (tests shorten them). */
  sseLimits?: Partial<SseStreamLimits>;
  /** The longest SIGTERM waits for requests in flight before closing their connections. */
  drainTimeoutMs?: number;
  /** First wait before the PostgreSQL listener reconnects (tests lengthen it to hold an outage). */
  listenerReconnectDelayMs?: number;
  /**
   * Provider HTTP behaviour (timeouts, retry waits, DNS); tests shorten them. The allow-list comes
   * from the configuration (`PM_MCP_PROVIDER_ALLOWED_HOSTS`), never from here.
   */
  providerHttp?: Omit<ProviderHttpOptions, 'allowedHosts'>;
  /** The provider timeout: every tool call's hard deadline (default 10 s; tests shorten it). */
  providerTimeoutMs?: number;
  /** Lifetime of OAuth access tokens for `/mcp` (default one hour; tests shorten it). */
  oauthAccessTokenTtlSeconds?: number;
  now?: () => Date;
}

export interface ServerApp {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly database: DatabaseHandle;
  readonly keys: KeyService;
  readonly accounts: AccountService;
  readonly connections: ConnectionService;
  readonly sseStreams: SseStreams;
  readonly events: ClusterEvents;
  /** Key lookups served from memory while cross-instance notifications arrive (PostgreSQL). */
  readonly keyCache: KeyLookupCache;
  /** This process among the instances sharing the database (logs, `pg_stat_activity`). */
  readonly instanceId: string;
  readonly passwordHashing: PasswordHashGate;
  readonly http: Express;
  /** The users' OAuth grants to MCP clients (listed and revoked like keys). */
  readonly grants: GrantService;
  /** The authorization server and `/mcp` as its protected resource, when OAuth is on. */
  readonly oauth: OAuthServer | null;
  /** Applies migrations, then listens on the configured host and port. */
  start(): Promise<{ url: string }>;
  /**
   * Stops within `drainTimeoutMs` (default 10 s) from the call, counting everything: no new
   * connections; SSE streams closed; requests in flight finished, each answered with
   * `Connection: close` (new event streams refused); at the deadline every connection left is
   * destroyed; then the listener and the database pool are released (at most 2 s each). With
   * `drain` (SIGTERM) it also waits, within the same bound, until clients have given up their
   * idle keep-alive connections (server/http/drain.ts) before closing them.
   */
  stop(options?: { drain?: boolean }): Promise<void>;
}

/** After the drain: the longest the database listener and the pool each get to close. */
const releaseMs = 2_000;

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
  const instanceId = randomBytes(6).toString('hex');
  const events: ClusterEvents =
    config.database.kind === 'postgres'
      ? new PostgresClusterEvents({
          url: config.database.url,
          schema: database.schema,
          db,
          logger,
          instanceId,
          ...(options.listenerReconnectDelayMs
            ? { reconnectDelayMs: options.listenerReconnectDelayMs }
            : {}),
        })
      : new LocalClusterEvents();

  const keyCache = new KeyLookupCache({ keys, events });
  const authenticator = new Authenticator({
    db,
    keys: keyCache,
    accessTokens,
    allowUserIdAuth: config.allowUserIdAuth,
    failures: createAttemptLimiter({ kind: database.kind, db }, 'auth', {
      maxAttempts: authFailureLimit.maxFailures,
      windowMs: authFailureLimit.windowMs,
    }),
    now,
  });
  const providerHttp = providerHttpOptions(config, options.providerHttp);
  const providerClients = new ProviderClientCache({ httpOptions: providerHttp });
  const grants = new GrantService(db, now);
  const sso =
    config.oauth.oidc && config.publicUrl
      ? new SsoService({
          config: config.oauth.oidc,
          publicUrl: config.publicUrl,
          db,
          logger,
          now,
        })
      : null;
  const oauth =
    config.oauth.enabled && config.publicUrl
      ? createOAuthServer({
          publicUrl: config.publicUrl,
          db,
          secretKey: config.secretKey,
          accounts,
          grants,
          logger,
          now,
          accessTokenTtlSeconds: options.oauthAccessTokenTtlSeconds ?? 3600,
          refreshTokenTtlDays: config.refreshTokenTtlDays,
          login: { passwordLogin: config.oauth.passwordLogin, ssoName: sso?.displayName ?? null },
          sso,
        })
      : null;
  const createMcpServer = (principal: Principal): McpServer => {
    const server = new McpServer({ name: 'pm-mcp', version }, { capabilities: { tools: {} } });
    registerServerTools(server, {
      userId: principal.userId,
      scope: principal.scope,
      policy: principal.policy,
      enabledTools: config.enabledTools,
      readOnly: config.readOnly,
      connections,
      providerHttp,
      providerClients,
      perProviderTimeoutMs: options.providerTimeoutMs,
      onUnexpectedError: (error, tool) =>
        logger.error({ err: error, tool }, 'tool failed unexpectedly'),
      onDeadline: (tool, elapsedMs, timerLateMs) =>
        logger.warn({ tool, ms: elapsedMs, timerLateMs }, 'tool call reached its deadline'),
    });
    return server;
  };

  const sseStreams = new SseStreams({
    db,
    events,
    instanceId,
    createServer: createMcpServer,
    logger,
    ...(options.sseLimits ? { limits: options.sseLimits } : {}),
  });
  /** Closes this instance's streams whose key is no longer usable (revoked, expired, deleted). */
  const closeUnusableStreams = async (keyIds: readonly string[]): Promise<void> => {
    const unusable = await keys.findUnusable(keyIds);
    await Promise.all([...unusable].map((keyId) => sseStreams.closeByKey(keyId)));
  };
  keys.events.on('revoked', (keyId) => {
    void sseStreams.closeByKey(keyId);
  });
  // A stream's tools were built with the key's limits of the time: new limits need a new stream.
  keys.events.on('changed', (keyId) => {
    void sseStreams.closeByKey(keyId);
  });
  events.on('event', (event) => {
    if (event.t === 'key') {
      // Any announced change to a key is a revocation or new limits (last_used_at is not
      // announced): either way its streams end, and the client reconnects under the new state.
      void sseStreams.closeByKey(event.id);
    } else if (event.t === 'user') {
      void sseStreams.closeByUser(event.id);
    }
  });
  // Back from an outage of the listening connection: changes made meanwhile were not heard.
  events.on('listening', (listening) => {
    if (!listening) return;
    void closeUnusableStreams(sseStreams.keyIds()).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not re-check open streams'),
    );
  });

  // Requests in flight, keep-alive and the bounded stop (server/http/drain.ts).
  const httpDrain = new HttpDrain();

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
  app.use(httpDrain.middleware());
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
  // Readiness for a load balancer: the database answers, its schema is this version's, and
  // (PostgreSQL) cross-instance notifications arrive. Draining instances are not ready.
  app.get('/ready', async (_req, res) => {
    const checks = {
      database: 'ok' as 'ok' | 'error',
      migrations: 'ok' as 'ok' | 'pending' | 'unknown',
      listener: events.shared ? (events.listening() ? 'ok' : 'down') : 'not_needed',
      draining: httpDrain.draining,
    };
    try {
      await database.ping();
      const pending = await pendingMigrations(db, { schema: database.schema });
      if (pending.length > 0) checks.migrations = 'pending';
    } catch (error) {
      logger.warn({ err: error }, 'readiness check: database unreachable');
      checks.database = 'error';
      checks.migrations = 'unknown';
    }
    const ready =
      checks.database === 'ok' &&
      checks.migrations === 'ok' &&
      checks.listener !== 'down' &&
      !httpDrain.draining;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not_ready', ...checks, version });
  });
  const json = express.json({ limit: '1mb' });
  const requireAuth = authenticated(authenticator);
  app.use('/api', refuseQueryKeys());
  // The desktop app's browser sign-in ends here (only where OAuth is on; elsewhere a 404).
  if (oauth) app.post('/api/auth/browser-session', oauth.browserSession);
  app.use(
    '/api/auth',
    json,
    authRoutes(accounts, {
      allowRegistration: config.allowRegistration,
      passwordLogin: config.oauth.passwordLogin,
    }),
  );
  app.use('/api/users/me/mcp-keys', requireAuth, json, keyRoutes(keys, connections));
  app.use('/api/users/me/providers', requireAuth, json, providerRoutes(connections));
  app.use('/api/users/me/grants', requireAuth, json, grantRoutes(grants, connections));
  app.use('/api/users/me', requireAuth, meRoutes(db));
  if (oauth) app.use(oauth.router);
  app.use('/mcp', mcpAuthenticated(authenticator, oauth?.resource ?? null));
  app.use('/sse', requireAuth);
  app.use('/messages', authenticatedIfPresented(authenticator), json);
  app.use(
    mcpRoutes({
      sseStreams,
      createServer: createMcpServer,
      keyExpiry: (principal) => (principal.expiresAt ? new Date(principal.expiresAt) : null),
      logger,
    }),
  );
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'No such endpoint' });
  });
  app.use(oauthErrorHandler());
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
    sseStreams,
    events,
    keyCache,
    instanceId,
    passwordHashing,
    http: app,
    grants,
    oauth,
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
      await events.start();
      sseStreams.start();
      if (config.publicUrl === null && !isLoopbackHost(config.host)) {
        logger.warn(
          `HOST=${config.host} without PM_MCP_PUBLIC_URL: any Host header is accepted. Set PM_MCP_PUBLIC_URL to the server's external URL so that only its host is (DNS-rebinding protection).`,
        );
      }
      oauth?.start();
      const server = app.listen(config.port, config.host);
      httpDrain.configure(server);
      await once(server, 'listening');
      httpServer = server;
      // A safety net behind the events (and, on SQLite, how a revocation by the admin command
      // line — another process — reaches open streams).
      sweep = setInterval(
        () => {
          void closeUnusableStreams(sseStreams.keyIds()).catch((error: unknown) =>
            logger.warn({ err: error }, 'stream revocation sweep failed'),
          );
        },
        options.revocationSweepMs ?? (events.shared ? 30_000 : 5_000),
      );
      sweep.unref();
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      logger.info(
        {
          url,
          publicUrl: config.publicUrl,
          database: database.kind,
          version,
          instance: instanceId,
        },
        'PM MCP server listening',
      );
      return { url };
    },
    async stop({ drain = false } = {}) {
      if (sweep) clearInterval(sweep);
      oauth?.stop();
      const server = httpServer;
      httpServer = undefined;
      const deadlineMs = options.drainTimeoutMs ?? 10_000;
      const { cutOff } = await httpDrain.stop(server, {
        drain,
        deadlineMs,
        closeStreams: () => sseStreams.closeAll(),
      });
      if (cutOff > 0)
        logger.warn(
          { requests: cutOff, deadlineMs },
          'drain deadline reached: requests still in flight were cut off',
        );
      // Neither may hold the exit: a listener reconnecting, a pool waiting for a client that a
      // cut-off request still holds.
      if (!(await settlesWithin(events.stop(), releaseMs)))
        logger.warn('the database listener did not stop in time');
      if (!(await settlesWithin(database.close(), releaseMs)))
        logger.warn('the database pool did not close in time');
    },
  };
}
