import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { openAdmin, type AdminOperations } from './admin.js';
import { loadConfig, type ServerConfig } from './config.js';
import { isDatabaseUnavailableError } from './db/database.js';

/**
 * `npm run server -- <command>` / `pm-mcp-server`: serve (default), migrate, and the operator's
 * commands of SPEC §3.8. Secrets are read from stdin, never from arguments.
 */

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('(reading from stdin; end with Ctrl-D)\n');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** Every operator command works on a migrated database; `migrate` itself reports what it applied. */
async function withAdmin<T>(
  config: () => ServerConfig,
  work: (admin: AdminOperations) => Promise<T>,
  { migrateFirst = true } = {},
): Promise<T> {
  const handle = openAdmin(config());
  try {
    if (migrateFirst) await handle.admin.migrate();
    return await work(handle.admin);
  } finally {
    await handle.close();
  }
}

/** SIGTERM: the longest the process lives on after it (the drain and releases take at most 14 s). */
const shutdownBackstopMs = 15_000;

async function serve(config: ServerConfig): Promise<void> {
  // Loaded only to serve: the operator's commands start faster without the HTTP and MCP stack.
  const { createServerApp } = await import('./app.js');
  const app = createServerApp(config);
  await app.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the drain.
      app.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    // stop() is bounded (10 s drain, then at most 2 s each for the listener and the pool); this
    // is the last resort should anything still hold the process.
    setTimeout(() => {
      app.logger.error({ afterMs: shutdownBackstopMs }, 'shutdown did not finish: exiting');
      process.exit(1);
    }, shutdownBackstopMs).unref();
    void app.stop({ drain: true }).then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

function parseExpiryDays(value: string): number | 'none' {
  if (value === 'none') return value;
  if (!/^[1-9][0-9]*$/.test(value))
    throw new InvalidArgumentError('a whole number of days, or "none" for no expiry.');
  return Number(value);
}

/** `a, b,c` → ['a', 'b', 'c']; the names themselves are checked by the operation. */
function commaList(value: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError('a comma-separated list, not empty.');
  return items;
}

const print = (value: unknown): void => {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
};

export function buildAdminProgram(env: Record<string, string | undefined> = process.env): Command {
  let loaded: ServerConfig | undefined;
  const config = (): ServerConfig => (loaded ??= loadConfig(env));
  const program = new Command('pm-mcp-server')
    .description('PM MCP server and its operator commands')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve', { isDefault: true })
    .description('run the server (default)')
    .action(() => serve(config()));

  program
    .command('migrate')
    .description('apply database migrations')
    .action(async () => {
      const report = await withAdmin(config, (admin) => admin.migrate(), { migrateFirst: false });
      print(report);
    });

  const users = program.command('users').description('manage users');
  users
    .command('create')
    .description('create a user (password read from stdin)')
    .requiredOption('--email <email>')
    .option('--name <name>')
    .action(async (options: { email: string; name?: string }) => {
      const password = await readStdin();
      print(
        await withAdmin(config, (admin) => admin.createUser(options.email, password, options.name)),
      );
    });

  users
    .command('delete')
    .description('delete a user and everything of theirs (keys, connections); ends their streams')
    .requiredOption('--email <email>')
    .action(async (options: { email: string }) => {
      print(await withAdmin(config, (admin) => admin.deleteUser(options.email)));
    });

  const keys = program.command('keys').description('manage MCP API keys');
  keys
    .command('create')
    .description('create a key for a user (printed once)')
    .requiredOption('--user <email>')
    .requiredOption('--name <name>')
    .option('--expires-days <n>', 'days until it expires, or "none"', parseExpiryDays)
    .option('--scope <scope>', 'read or write', 'write')
    .option('--tools <names>', 'only these tools (comma-separated)', commaList)
    .option(
      '--projects <entries>',
      'only these connections / "<connection id>:<project key>" (comma-separated)',
      commaList,
    )
    .action(
      async (options: {
        user: string;
        name: string;
        expiresDays?: number | 'none';
        scope: string;
        tools?: string[];
        projects?: string[];
      }) => {
        if (options.scope !== 'read' && options.scope !== 'write')
          throw new Error('--scope must be read or write');
        const scope = options.scope;
        const created = await withAdmin(config, async (admin) =>
          admin.createUserApiKey(await admin.userIdOf(options.user), options.name, {
            scope,
            ...(options.tools ? { allowedTools: options.tools } : {}),
            ...(options.projects ? { allowedProjects: options.projects } : {}),
            ...(options.expiresDays !== undefined
              ? { expiresInDays: options.expiresDays === 'none' ? null : options.expiresDays }
              : {}),
          }),
        );
        print(created);
        process.stderr.write('Store this key now: it is not shown again.\n');
      },
    );
  keys
    .command('list')
    .requiredOption('--user <email>')
    .action(async (options: { user: string }) => {
      print(
        await withAdmin(config, async (admin) =>
          admin.listUserKeys(await admin.userIdOf(options.user)),
        ),
      );
    });
  keys
    .command('revoke <idOrPrefix>')
    .description('revoke a key by id or displayed prefix')
    .action(async (idOrPrefix: string) => {
      print(await withAdmin(config, (admin) => admin.revokeKey(idOrPrefix)));
    });
  keys
    .command('check')
    .description('read a key from stdin and tell whether it is unknown, revoked, expired or active')
    .action(async () => {
      const plaintext = await readStdin();
      print(await withAdmin(config, (admin) => admin.checkKey(plaintext)));
    });

  const providers = program.command('providers').description('inspect provider connections');
  providers
    .command('list')
    .requiredOption('--user <email>')
    .action(async (options: { user: string }) => {
      print(
        await withAdmin(config, async (admin) =>
          admin.listUserProviders(await admin.userIdOf(options.user)),
        ),
      );
    });

  return program;
}

/** Runs the operator's command line with `process.argv`; errors are one line on stderr. */
export async function main(): Promise<void> {
  try {
    await buildAdminProgram().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    const message = error instanceof Error ? error.message : String(error);
    const context = isDatabaseUnavailableError(error) ? 'cannot reach the database: ' : '';
    process.stderr.write(`pm-mcp-server: ${context}${message}\n`);
    process.exit(1);
  }
}

if (
  import.meta.url === `file://${process.argv[1] ?? ''}` ||
  process.argv[1]?.endsWith('server/cli.ts')
) {
  void main();
}
