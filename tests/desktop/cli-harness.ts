import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliEntry = path.join(repoRoot, 'main', 'cli', 'index.ts');
// `--import tsx` resolves from the working directory; the sandbox runs in its temporary HOME.
const tsxLoader = pathToFileURL(
  path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
).href;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temporary user: HOME, PM_MCP_HOME and a keychain service of its own (real keytar). */
export interface CliSandbox {
  home: string;
  configDir: string;
  keychainService: string;
  env: Record<string, string>;
  /** `node --import tsx main/cli/index.ts …` as a real child process. */
  run(
    args: string[],
    options?: { input?: string; env?: Record<string, string> },
  ): Promise<CliResult>;
  /** A long-running command (`proxy`); resolves once `ready` appears on stderr. */
  spawnLong(args: string[], ready: RegExp): Promise<LongRunning>;
  cleanup(): void;
}

export interface LongRunning {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stderr(): string;
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGINT (Ctrl-C) and the exit code. */
  interrupt(): Promise<number | null>;
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'DBUS_SESSION_BUS_ADDRESS', 'LANG', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export function createCliSandbox(): CliSandbox {
  const home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-cli-'));
  const configDir = path.join(home, 'pm-mcp-home');
  const keychainService = `pm-mcp-test-${randomBytes(6).toString('hex')}`;
  const env = {
    ...baseEnv(),
    HOME: home,
    PM_MCP_HOME: configDir,
    PM_MCP_KEYCHAIN_SERVICE: keychainService,
    XDG_CONFIG_HOME: path.join(home, '.config'),
  };
  const children: ChildProcessWithoutNullStreams[] = [];

  const start = (args: string[], extraEnv: Record<string, string> = {}) => {
    const child = spawn(process.execPath, ['--import', tsxLoader, cliEntry, ...args], {
      cwd: home,
      env: { ...env, ...extraEnv },
    });
    children.push(child);
    return child;
  };

  return {
    home,
    configDir,
    keychainService,
    env,
    run(args, options = {}) {
      const child = start(args, options.env);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.end(options.input ?? '');
      return new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => {
          resolve({ code, stdout, stderr });
        });
      });
    },
    async spawnLong(args, ready) {
      const child = start(args);
      let stderr = '';
      const waiters: { pattern: RegExp; resolve: () => void }[] = [];
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(stderr)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const waitForStderr = (pattern: RegExp, timeoutMs = 20_000): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          if (pattern.test(stderr)) {
            resolve();
            return;
          }
          const timer = setTimeout(() => {
            reject(new Error(`timed out waiting for ${String(pattern)}; stderr: ${stderr}`));
          }, timeoutMs);
          waiters.push({
            pattern,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
          void exited.then(() => {
            clearTimeout(timer);
            reject(new Error(`exited while waiting for ${String(pattern)}; stderr: ${stderr}`));
          });
        });
      await waitForStderr(ready);
      return {
        child,
        exited,
        stderr: () => stderr,
        waitForStderr,
        interrupt() {
          child.kill('SIGINT');
          return exited;
        },
      };
    },
    cleanup() {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** What each test of the file leaves behind, undone after it (last first): push onto the list. */
export function cleanupsAfterEach(): (() => unknown)[] {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}

/** A sandbox removed (and its processes ended) after the test. */
export function sandboxUntilCleanup(cleanups: (() => unknown)[]): CliSandbox {
  const cli = createCliSandbox();
  cleanups.push(() => cli.cleanup());
  return cli;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Every file under `dir` (following no links out), for secret scans. */
export function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const full = path.join(dir, name);
    const stat = statSync(full, { throwIfNoEntry: false });
    if (!stat) return [];
    return stat.isDirectory() ? filesUnder(full) : [full];
  });
}

/** Full MCP keys (the 12-character display prefix alone is not one). */
export const fullKeyPattern = /mcp_[A-Za-z0-9_-]{20,}/;

export function findSecrets(files: string[], secrets: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (fullKeyPattern.test(text) || secrets.some((secret) => text.includes(secret))) {
      found.push(file);
    }
  }
  return found;
}
