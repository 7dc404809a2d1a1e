import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');
let child: ChildProcess | undefined;
let folder: string | undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function health(url: string): Promise<number | 'down'> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 'down';
  }
}

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child?.once('exit', resolve));
  }
  child = undefined;
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

describe('npm start', () => {
  it('without Electron keeps the server running, says what is missing and how to use pm-mcp, and Ctrl-C stops it', async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-start-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: `sqlite:${path.join(folder, 'pm-mcp.sqlite')}`,
        PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
        // Electron's own override: points it at an empty folder, so the binary is missing here
        // even on a machine where it is installed.
        ELECTRON_OVERRIDE_DIST_PATH: folder,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

    const deadline = Date.now() + 60_000;
    while (!output.includes('Press Ctrl-C') && Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(output).toContain(`PM MCP server is running at ${url}`);
    expect(output).toContain(
      'The tray app was not started: Electron is not installed on this machine.',
    );
    expect(output).toContain(`Electron's binary is not at ${path.join(folder, 'electron')}`);
    expect(output).toContain(`npm run cli -- login --server ${url} --email`);
    expect(await health(url)).toBe(200);

    // Still serving a moment later: the missing app does not take the server down.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await health(url)).toBe(200);

    const running = child;
    const exitCode = new Promise<number | null>((resolve) => running.once('exit', resolve));
    running.kill('SIGINT');
    expect(await exitCode).toBe(0);
    expect(await health(url)).toBe('down');
  }, 90_000);
});
