/**
 * `npm start`: the PM MCP server on embedded SQLite, plus the tray app pointed at it.
 * `npm run dev`: the same, rebuilding the window on every change (`vite build --watch`).
 *
 * The server runs as a child process under this machine's Node (`node --import tsx
 * server/cli.ts serve`): better-sqlite3 is built for Node, never for Electron. Once `GET /health`
 * answers, the app is started with `PM_MCP_SERVER_URL` set, when Electron's binary is installed.
 * When it is not, the server keeps running and this says plainly what is missing and how to use
 * the `pm-mcp` command instead. Ctrl-C stops everything this started.
 *
 * Environment: `PORT` (default 8080), `DATABASE_URL` (default `sqlite:./data/pm-mcp.sqlite`),
 * `LOG_LEVEL` (default `warn` here, to keep the terminal readable).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dev = process.argv.includes('--dev');
const port = process.env.PORT ?? '8080';
const serverUrl = `http://127.0.0.1:${port}`;
const children = new Set<ChildProcess>();
let stopping = false;

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  name: string,
): ChildProcess {
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const prefix = (chunk: Buffer) =>
    chunk
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => `[${name}] ${line}\n`)
      .join('');
  child.stdout.on('data', (chunk: Buffer) => process.stdout.write(prefix(chunk)));
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  child.on('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function stopAll(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
    const deadline = setTimeout(() => {
      for (const child of children) child.kill('SIGKILL');
    }, 10_000);
    await Promise.all([...children].map(exited));
    clearTimeout(deadline);
  }
  process.exit(exitCode);
}

async function healthy(): Promise<boolean> {
  try {
    const response = await fetch(`${serverUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

async function waitForHealth(server: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(
        `the server stopped during start-up (exit code ${server.exitCode ?? 'none'})`,
      );
    }
    if (await healthy()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the server did not answer ${serverUrl}/health within ${timeoutMs / 1000} s`);
}

/** Electron's binary, or why there is none. `require('electron')` from Node returns its path. */
function findElectron(): { path: string } | { missing: string } {
  let binary: unknown;
  try {
    binary = createRequire(import.meta.url)('electron');
  } catch (error) {
    return {
      missing:
        'the electron package has no binary (its download was skipped or blocked during ' +
        `npm install: ${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
    };
  }
  if (typeof binary !== 'string') return { missing: 'the electron package did not name a binary' };
  if (!existsSync(binary)) return { missing: `Electron's binary is not at ${binary}` };
  return { path: binary };
}

function run(command: string, args: string[], name: string): Promise<number | null> {
  return exited(start(command, args, process.env, name));
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  if (await healthy()) {
    say(`A PM MCP server already answers at ${serverUrl}; using it.`);
  } else {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: port,
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    if (!env.DATABASE_URL) mkdirSync(path.join(repoRoot, 'data'), { recursive: true });
    say(`Starting the PM MCP server on ${serverUrl} …`);
    const server = start(
      process.execPath,
      ['--import', 'tsx', path.join('server', 'cli.ts'), 'serve'],
      env,
      'server',
    );
    server.on('exit', (code) => {
      if (stopping) return;
      say(`The server stopped (exit code ${code ?? 'none'}).`);
      void stopAll(code ?? 1);
    });
    await waitForHealth(server, 60_000);
    const database = process.env.DATABASE_URL ?? 'sqlite:./data/pm-mcp.sqlite';
    say(
      `PM MCP server is running at ${serverUrl} (database ${database.replace(/\/\/[^@]*@/, '//…@')}).`,
    );
  }

  const electron = findElectron();
  if ('missing' in electron) {
    say();
    say('The tray app was not started: Electron is not installed on this machine.');
    say(`  What is missing: ${electron.missing}.`);
    say('  To install it: node node_modules/electron/install.js  (needs access to github.com),');
    say('  then run npm start again.');
    say();
    say('Meanwhile, the pm-mcp command does everything the app does:');
    say(`  npm run cli -- login --server ${serverUrl} --email you@example.com`);
    say('  npm run cli -- configure cursor');
    say('  npm run cli -- proxy          (the local connection Cursor talks to)');
    say('  npm run cli -- status');
    say();
    say('The server keeps running. Press Ctrl-C to stop it.');
    return;
  }

  say('Building the app …');
  if ((await run(process.execPath, [tscBin(), '-p', 'tsconfig.build.json'], 'tsc')) !== 0) {
    say('Compiling the main process failed (see above).');
    await stopAll(1);
  }
  if ((await run(process.execPath, [viteBin(), 'build'], 'vite')) !== 0) {
    say('Building the window failed (see above).');
    await stopAll(1);
  }
  // Development: rebuild the window on every change (reload it with Ctrl+R).
  if (dev) start(process.execPath, [viteBin(), 'build', '--watch'], process.env, 'vite');
  say(`Starting the tray app (${electron.path}) …`);
  const app = start(electron.path, ['.'], { ...process.env, PM_MCP_SERVER_URL: serverUrl }, 'app');
  app.on('exit', (code) => {
    if (stopping) return;
    say('The app quit; stopping the server.');
    void stopAll(code ?? 0);
  });
}

function tscBin(): string {
  return path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
}

function viteBin(): string {
  return path.join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js');
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
  void stopAll(1);
});
