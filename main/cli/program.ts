import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  clientIds,
  pmToolNames,
  type AppState,
  providerTypes,
  type ClientId,
  type GrantInfo,
  type KeyInfo,
  type LimitsChange,
  type ProviderType,
} from '../../preload/contract.js';
import type { ClientChange, DesktopCore } from '../core/desktop-core.js';
import { DesktopError, desktopErrorCatalogue, isDesktopError } from '../errors.js';
import {
  formatClients,
  formatGrants,
  formatKeys,
  formatLimits,
  formatProviders,
  formatStatus,
} from './format.js';
import { readSecret, type CliInput } from './input.js';

export interface CliIo {
  stdin: CliInput;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Where the stdio bridge connects, with the headers it adds. */
export interface BridgeTarget {
  url: string;
  headers: Record<string, string>;
}

/** Everything the commands use, built by the composition root (`index.ts`) and passed in. */
export interface CliDeps {
  io: CliIo;
  /** The folder relative `--project` paths are resolved against. */
  cwd: string;
  /** The core for a config folder: `--home` when given, else PM_MCP_HOME or the OS convention. */
  createCore(home: string | undefined): DesktopCore;
  /** Speaks MCP on stdin/stdout to `target` until stdin closes; resolves with the exit code. */
  runBridge(target: BridgeTarget): Promise<number>;
  /** Resolves with the signal's name on Ctrl-C or SIGTERM. */
  waitForStopSignal(): Promise<string>;
}

const version = '0.1.0';

/** `a, b,c` → ['a', 'b', 'c']; what the names mean the server checks. */
function commaList(value: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError('a comma-separated list, not empty.');
  return items;
}

/** A key of the listing by id or displayed prefix (exactly one). */
function findKey(all: KeyInfo[], idOrPrefix: string): KeyInfo {
  const prefix = idOrPrefix.replace(/…$/, '');
  const matches = all.filter((k) => k.id === idOrPrefix || k.keyPrefix === prefix);
  const key = matches[0];
  if (!key || matches.length > 1) {
    throw new DesktopError(
      'not_found',
      matches.length > 1
        ? `"${idOrPrefix}" matches several keys; use the id (pm-mcp keys list)`
        : `No key "${idOrPrefix}" (pm-mcp keys list shows ids and prefixes)`,
    );
  }
  return key;
}

/** The grant with this id, if it is one (grant ids are never key prefixes). */
async function findGrant(core: DesktopCore, id: string): Promise<GrantInfo | undefined> {
  if (id.startsWith('mcp_')) return undefined;
  return (await core.listGrants()).find((grant) => grant.id === id);
}

/** What `keys limit`'s options ask for: --clear lifts both, --tools / --projects set one each. */
function limitsChangeOf(options: {
  tools?: string[];
  projects?: string[];
  clear?: true;
}): LimitsChange {
  if (options.clear && (options.tools || options.projects)) {
    throw new DesktopError('usage', '--clear lifts every limit: give it alone');
  }
  if (!options.clear && !options.tools && !options.projects) {
    throw new DesktopError('usage', 'Give --tools, --projects, or --clear');
  }
  return options.clear
    ? { allowedTools: null, allowedProjects: null }
    : {
        ...(options.tools ? { allowedTools: options.tools } : {}),
        ...(options.projects ? { allowedProjects: options.projects } : {}),
      };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1024 || port > 65_535) {
    throw new InvalidArgumentError('must be a port number between 1024 and 65535');
  }
  return port;
}

function parseClient(value: string): ClientId {
  const found = clientIds.find((id) => id === value);
  if (!found) throw new InvalidArgumentError(`choose one of ${clientIds.join(', ')}`);
  return found;
}

function parseProviderType(value: string): ProviderType {
  const found = providerTypes.find((type) => type === value);
  if (!found) throw new InvalidArgumentError(`choose one of ${providerTypes.join(', ')}`);
  return found;
}

/** What a command sets when it ends without an error but with a non-zero exit code. */
export interface CliOutcome {
  exitCode: number;
}

/** The `pm-mcp` program. Errors propagate to `runCli`, which prints one line and the exit code. */
export function buildProgram(deps: CliDeps, outcome: CliOutcome = { exitCode: 0 }): Command {
  const { io } = deps;
  const out = (text: string): void => {
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const note = (text: string): void => {
    io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  };

  const program = new Command('pm-mcp')
    .description(
      'PM MCP from the command line: sign in, keep your MCP key in the OS keychain, configure AI ' +
        'editors and run the local MCP proxy.',
    )
    .version(version)
    .option('--home <dir>', 'config folder (default: PM_MCP_HOME, else the OS convention)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride();

  let core: DesktopCore | undefined;
  const coreOf = (): DesktopCore => {
    core ??= deps.createCore(program.opts<{ home?: string }>().home);
    return core;
  };
  const projectDir = (dir: string | undefined): { projectDir?: string } =>
    dir === undefined ? {} : { projectDir: path.resolve(deps.cwd, dir) };
  /**
   * Keys found in plain text in an editor's file (issue: a backup must never keep one): the
   * signed-in account's are revoked, this machine's is rotated; others are only named.
   */
  const revokeExposedKeys = async (prefixes: readonly string[]): Promise<void> => {
    const c = coreOf();
    const keys = await c.listKeys();
    for (const prefix of prefixes) {
      const key = keys.find((candidate) => candidate.keyPrefix === prefix && candidate.isActive);
      if (!key) {
        note(`${prefix}… is not an active key of your account here: revoke it where it was made.`);
      } else if (key.isThisMachine) {
        await c.rotateKey();
        out(`Rotated this machine's key (${prefix}… is revoked; the proxy uses the new one).`);
      } else {
        await c.revokeKey(key.id);
        out(`Revoked ${prefix}… "${key.name}".`);
      }
    }
  };
  const printChange = (verb: string, change: ClientChange): void => {
    if (change.copyText === undefined) {
      out(
        `${verb} ${change.label}: ${change.path}${change.changed ? '' : ' (already up to date)'}`,
      );
    } else {
      out(`${change.label}: nothing written; paste the JSON below into ${change.path}.`);
    }
    if (change.backupPath) out(`Backup of the original: ${change.backupPath}`);
    for (const line of change.notes) out(`Note: ${line}`);
    if (change.copyText !== undefined) out(change.copyText);
    for (const prefix of change.exposedKeyPrefixes) {
      note(
        `Warning: the MCP key ${prefix}… was stored in plain text in ${change.label}'s file ` +
          '(PM MCP removed it, and keeps no copy in its backup). Anyone who could read that file ' +
          `may have it: revoke it with "pm-mcp keys revoke ${prefix}" (if it is this machine's ` +
          'key, "pm-mcp keys rotate" replaces it instead).',
      );
    }
  };

  program
    .command('login')
    .description(
      'sign in (with a password, or --web through your browser), mint a key named after this ' +
        'machine, keep both secrets in the keychain',
    )
    .requiredOption('--server <url>', 'the PM MCP server, e.g. https://pm-mcp.example.com')
    .option('--web', "sign in through your browser: the server's page, password or single sign-on")
    .option('--email <email>', 'your account email (not with --web)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--register', 'create the account first')
    .option('--name <name>', 'your name (with --register)')
    .option('--insecure', 'allow plain http:// to a host other than this machine')
    .action(
      async (opts: {
        server: string;
        web?: boolean;
        email?: string;
        passwordStdin?: boolean;
        register?: boolean;
        name?: string;
        insecure?: boolean;
      }) => {
        const allowInsecure = opts.insecure === true;
        let state: AppState;
        if (opts.web === true) {
          if (opts.email !== undefined || opts.passwordStdin || opts.register) {
            throw new DesktopError(
              'usage',
              "--web signs in on the server's page: give no --email, --password-stdin or --register",
            );
          }
          state = await coreOf().signInWithBrowser({ serverUrl: opts.server, allowInsecure });
        } else {
          if (opts.email === undefined) {
            throw new DesktopError(
              'usage',
              "required option '--email <email>' not specified (or sign in through the browser with --web)",
            );
          }
          const password = await readSecret(io, 'password', {
            fromStdin: opts.passwordStdin === true,
            pipeFlag: '--password-stdin',
          });
          state = await coreOf().signIn({
            serverUrl: opts.server,
            email: opts.email,
            password,
            createAccount: opts.register === true,
            ...(opts.name !== undefined ? { name: opts.name } : {}),
            allowInsecure,
          });
        }
        out(
          `Signed in to ${state.serverUrl ?? opts.server} as ${state.user?.email ?? opts.email}.`,
        );
        if (state.key) {
          out(
            `This machine's MCP key: ${state.key.keyPrefix}… "${state.key.name}" ` +
              '(kept in the OS keychain, never in a file).',
          );
        }
        const auto = state.autoConfigured;
        if (auto) {
          out(
            `Configured ${auto.label} automatically: ${auto.path}. ` +
              'Undo (restores the file as it was): pm-mcp clients undo-auto',
          );
          out('Next: pm-mcp proxy (or run the tray app); pm-mcp clients lists the other editors.');
        } else {
          out('Next: pm-mcp configure cursor, then pm-mcp proxy (or run the tray app).');
        }
      },
    );

  program
    .command('logout')
    .description("revoke this machine's key on the server and clear the keychain entries")
    .action(async () => {
      const { state, result } = await coreOf().signOutWithResult();
      if (result.warning) note(`Warning: ${result.warning}`);
      else
        out(
          `Signed out${state.serverUrl ? ` of ${state.serverUrl}` : ''}; this machine's key is revoked.`,
        );
    });

  program
    .command('status')
    .description('server, user, key, providers, configured clients and proxy')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const c = coreOf();
      await c.rotateKeyIfDue().catch(() => false);
      const state = await c.getState();
      out(opts.json ? JSON.stringify(state, null, 2) : formatStatus(state));
    });

  const keys = program
    .command('keys')
    .description("your MCP keys (this machine's and others) and the editors signed in with OAuth");
  keys
    .command('list', { isDefault: true })
    .description('all of your keys, with last use and expiry, then your OAuth grants (the default)')
    .option('--json', 'machine-readable output: {"keys": [...], "grants": [...]}')
    .action(async (opts: { json?: boolean }) => {
      const c = coreOf();
      const [keyList, grants] = await Promise.all([c.listKeys(), c.listGrants()]);
      if (opts.json) {
        out(JSON.stringify({ keys: keyList, grants }, null, 2));
        return;
      }
      out(formatKeys(keyList));
      out('');
      out('Editors signed in with OAuth:');
      out(formatGrants(grants));
    });
  keys
    .command('revoke')
    .description("revoke a key (by id or prefix) or an editor's OAuth grant (by id)")
    .argument('<id>', 'key id, key prefix or grant id')
    .action(async (idOrPrefix: string) => {
      const c = coreOf();
      const grant = await findGrant(c, idOrPrefix);
      if (grant) {
        await c.revokeGrant(grant.id);
        out(`Revoked the OAuth grant of ${grant.clientName}: it is refused at its next request.`);
        return;
      }
      const key = findKey(await c.listKeys(), idOrPrefix);
      await c.revokeKey(key.id);
      out(`Revoked ${key.keyPrefix}… "${key.name}".`);
      if (key.isThisMachine) {
        note("That was this machine's key: sign in again (pm-mcp login) to mint a new one.");
      }
    });
  keys
    .command('limit')
    .description(
      "set a key's or an editor's OAuth grant's limits: only these tools and/or projects " +
        '(a signed-in session only)',
    )
    .argument('<id>', 'key id, key prefix or grant id')
    .option('--tools <names>', `comma-separated tools (${pmToolNames.join(', ')})`, commaList)
    .option(
      '--projects <entries>',
      'comma-separated connection ids or "<connection id>:<project key>"',
      commaList,
    )
    .option('--clear', 'lift both limits (every tool and project its scope allows again)')
    .action(
      async (
        idOrPrefix: string,
        options: { tools?: string[]; projects?: string[]; clear?: true },
      ) => {
        const limits = limitsChangeOf(options);
        const c = coreOf();
        const grant = await findGrant(c, idOrPrefix);
        if (grant) {
          const updated = (await c.setGrantLimits(grant.id, limits)).find((g) => g.id === grant.id);
          out(
            `Limits of the OAuth grant of ${grant.clientName}: ` +
              `${updated ? formatLimits(updated) : 'changed'}.`,
          );
          note("They hold from the editor's next request, on every server instance.");
          return;
        }
        const key = findKey(await c.listKeys(), idOrPrefix);
        const updated = (await c.setKeyLimits(key.id, limits)).find((k) => k.id === key.id);
        out(
          `Limits of ${key.keyPrefix}… "${key.name}": ${updated ? formatLimits(updated) : 'changed'}.`,
        );
        note("They hold from the key's next request, on every server instance.");
      },
    );
  keys
    .command('rotate')
    .description("replace this machine's key with a new one (the old one stops working)")
    .action(async () => {
      const rotated = await coreOf().rotateKey();
      out(
        `Rotated: this machine now uses ${rotated.key.keyPrefix}… (kept in the OS keychain); ` +
          'the old key is revoked. A running proxy picks the new key up by itself.',
      );
    });

  const providers = program
    .command('providers')
    .description('your Jira and OpenProject connections');
  providers
    .command('list')
    .description('connections and whether they work')
    .action(async () => {
      out(formatProviders(await coreOf().listProviders()));
    });
  providers
    .command('add')
    .description(
      'add a connection; the API token is read from stdin (or asked for), never from arguments',
    )
    .addOption(
      new Option('--type <type>', `one of ${providerTypes.join(', ')}`)
        .argParser(parseProviderType)
        .makeOptionMandatory(),
    )
    .requiredOption('--name <name>', 'a name for the connection')
    .requiredOption('--url <url>', 'e.g. https://your-team.atlassian.net')
    .option('--email <email>', 'your Atlassian email (Jira Cloud)')
    .option('--token-stdin', 'read the API token from standard input')
    .action(
      async (opts: {
        type: ProviderType;
        name: string;
        url: string;
        email?: string;
        tokenStdin?: boolean;
      }) => {
        const apiToken = await readSecret(io, 'API token', {
          fromStdin: opts.tokenStdin === true,
          pipeFlag: null,
        });
        const provider = await coreOf().addProvider({
          providerType: opts.type,
          name: opts.name,
          baseUrl: opts.url,
          apiToken,
          ...(opts.email !== undefined ? { email: opts.email } : {}),
        });
        out(`Added ${provider.name} (${provider.providerType}), id ${provider.id}.`);
      },
    );
  providers
    .command('test')
    .description('check a connection against the provider now')
    .argument('<id>', 'connection id (pm-mcp providers list)')
    .action(async (id: string) => {
      const result = await coreOf().testProvider(id);
      out(
        `${result.ok ? 'OK' : 'FAILED'}: ${result.message}${result.account ? ` (${result.account})` : ''}`,
      );
      if (!result.ok)
        throw new DesktopError('request_refused', 'The provider refused the credentials');
    });
  providers
    .command('remove')
    .description('delete a connection')
    .argument('<id>', 'connection id')
    .action(async (id: string) => {
      await coreOf().removeProvider(id);
      out(`Removed ${id}.`);
    });

  const clients = program
    .command('clients')
    .description('every AI editor PM MCP can configure, installed ones first');
  clients
    .command('list', { isDefault: true })
    .description('each client: installed or not, configured or not, its file (the default)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const state = await coreOf().currentState();
      out(opts.json ? JSON.stringify(state.clients, null, 2) : formatClients(state.clients));
    });
  clients
    .command('undo-auto')
    .description('undo the Cursor configuration written automatically after sign-in')
    .action(async () => {
      out(await coreOf().undoAutoConfigureWithMessage());
    });
  clients
    .command('auto-cursor')
    .description('configure Cursor automatically after sign-in (on by default)')
    .argument('<on|off>', 'on or off', (value: string) => {
      if (value !== 'on' && value !== 'off') throw new InvalidArgumentError('choose on or off');
      return value === 'on';
    })
    .action(async (enabled: boolean) => {
      await coreOf().updateSettings({ autoConfigureCursor: enabled });
      out(`Automatic Cursor configuration is ${enabled ? 'on' : 'off'}.`);
    });

  program
    .command('configure')
    .description(`point an AI editor at PM MCP (${clientIds.join(', ')})`)
    .argument('<client>', clientIds.join(' | '), parseClient)
    .option('--direct', 'write the server URL and the MCP key itself instead of the local proxy')
    .option('--project <dir>', "write the project's file instead of your user file")
    .option(
      '--revoke-exposed',
      "revoke any of your keys PM MCP found in the file in plain text (this machine's is rotated)",
    )
    .action(
      async (
        client: ClientId,
        opts: { direct?: boolean; project?: string; revokeExposed?: boolean },
      ) => {
        const change = await coreOf().configureClient(client, {
          direct: opts.direct === true,
          ...projectDir(opts.project),
        });
        printChange('Configured', change);
        if (opts.revokeExposed === true && change.exposedKeyPrefixes.length > 0) {
          await revokeExposedKeys(change.exposedKeyPrefixes);
        }
        if (opts.direct !== true) {
          const state = await coreOf().currentState();
          if (!state.proxy.running) {
            out(
              'The local proxy is not running: start it with pm-mcp proxy (or run the tray app).',
            );
          }
        }
      },
    );

  program
    .command('unconfigure')
    .description("remove our entry (only ours) from an editor's file")
    .argument('<client>', clientIds.join(' | '), parseClient)
    .option('--project <dir>', "the project's file instead of your user file")
    .action(async (client: ClientId, opts: { project?: string }) => {
      printChange(
        'Unconfigured',
        await coreOf().unconfigureClient(client, projectDir(opts.project)),
      );
    });

  const localToken = program
    .command('local-token')
    .description('the per-install token editors present to the local proxy (not your MCP key)');
  localToken
    .command('show')
    .description(
      'print it, for project files that read PM_MCP_LOCAL_TOKEN ' +
        '(export PM_MCP_LOCAL_TOKEN="$(pm-mcp local-token show)")',
    )
    .action(async () => {
      out((await coreOf().proxyEndpoint()).localToken);
    });
  localToken
    .command('rotate')
    .description('make a new one; editors configured in proxy mode are rewritten with it')
    .action(async () => {
      const changes = await coreOf().rotateLocalToken();
      out('New local proxy token in the OS keychain; the old one no longer opens the proxy.');
      for (const change of changes) printChange('Rewrote', change);
    });

  program
    .command('proxy')
    .description('run the local MCP proxy in the foreground (Ctrl-C stops it)')
    .option(
      '--port <n>',
      'port on 127.0.0.1 (default: the saved one, 8765); saved, and configured clients are rewritten to use it',
      parsePort,
    )
    .action(async (opts: { port?: number }) => {
      const c = coreOf();
      if (opts.port !== undefined && (await c.getSettings()).proxyPort !== opts.port) {
        await c.updateSettings({ proxyPort: opts.port });
        note(`Saved ${opts.port} as the proxy port; configured clients now point at it.`);
      }
      const initial = await c.start({ proxy: false });
      let keyId = initial.key?.id;
      let rejected = initial.keyHealth === 'rejected';
      let signedOutElsewhere: () => void = () => undefined;
      const signedOut = new Promise<string>((resolve) => {
        signedOutElsewhere = () => {
          resolve('Signed out (by another pm-mcp or the app)');
        };
      });
      const unsubscribe = c.onStateChanged((state) => {
        if (state.user === null) signedOutElsewhere();
        if (state.key && state.key.id !== keyId) {
          keyId = state.key.id;
          note(`Now using this machine's new key ${state.key.keyPrefix}… (no restart needed).`);
        }
        const nowRejected = state.keyHealth === 'rejected';
        if (nowRejected && !rejected) {
          note(`Warning: ${state.summary} (pm-mcp login, or "mint a new key" in the app).`);
        }
        rejected = nowRejected;
      });
      try {
        const status = await c.startProxy();
        note(
          `Proxy listening on http://127.0.0.1:${status.port}/mcp → ${initial.serverUrl ?? 'the server'}. ` +
            'Press Ctrl-C to stop.',
        );
        const reason = await Promise.race([deps.waitForStopSignal(), signedOut]);
        note(`${reason}: stopping the proxy.`);
      } finally {
        unsubscribe();
        await c.stop();
      }
    });

  program
    .command('bridge')
    .description('speak MCP over stdio to the local proxy (for Claude Desktop)')
    .option('--direct', 'connect to the server itself with the MCP key instead of the local proxy')
    .action(async (opts: { direct?: boolean }) => {
      const c = coreOf();
      if (opts.direct === true) {
        const { url, apiKey } = await c.directEndpoint();
        outcome.exitCode = await deps.runBridge({ url, headers: { 'X-MCP-API-Key': apiKey } });
      } else {
        const { url, localToken } = await c.proxyEndpoint();
        outcome.exitCode = await deps.runBridge({
          url,
          headers: { Authorization: `Bearer ${localToken}` },
        });
      }
    });

  return program;
}

/** Runs the program; returns the exit code. Errors are one line on stderr, never a stack. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const outcome: CliOutcome = { exitCode: 0 };
  const program = buildProgram(deps, outcome);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (and the help hint) already.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      return error.exitCode === 0 ? 0 : desktopErrorCatalogue.usage;
    }
    if (isDesktopError(error)) {
      deps.io.stderr.write(`pm-mcp: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    deps.io.stderr.write(`pm-mcp: unexpected error: ${message}\n`);
    return 1;
  }
}
