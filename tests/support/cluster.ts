import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { serverBin } from './server-build.js';

/** Polls until `check` holds, or fails after `timeoutMs` naming what was awaited. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  /** Everything it wrote to stdout and stderr (its logs). */
  readonly output: string[];
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  /** Sends the signal and waits for the process to end (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/**
 * The compiled server (`bin/pm-mcp-server.js` running `dist/server`) as its own process, as an
 * operator runs it; resolves once `GET /ready` answers 200.
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: { port?: number; readyTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [serverBin], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(kill);
      return code;
    }
    return child.exitCode;
  };
  let ended = false;
  void exited.then(() => (ended = true));
  try {
    await waitFor(
      `the server on port ${port} to be ready`,
      async () => {
        if (ended) throw new Error(`The server exited before it was ready:\n${output.join('')}`);
        try {
          return (await fetch(`${url}/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      options.readyTimeoutMs ?? 90_000,
      100,
    );
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  return { url, port, output, child, exited, stop };
}
