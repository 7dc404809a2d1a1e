import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './cluster.js';

const execFileAsync = promisify(execFile);

export interface PrivatePostgres {
  readonly url: string;
  /** The postmaster's pid (for its memory figures). */
  postmasterPid(): number;
  start(): Promise<unknown>;
  /** A fast stop: idle connections are terminated (57P01), as in a restart or failover. */
  stop(): Promise<unknown>;
  remove(): Promise<void>;
}

/**
 * A PostgreSQL cluster of its own in a temporary folder (Debian's `initdb`/`pg_ctl`), on a free
 * loopback port, that a test may stop and start without touching the shared one. As root,
 * PostgreSQL runs as the `postgres` user, as it must.
 */
export async function startPrivatePostgres(
  options: { maxConnections?: number } = {},
): Promise<PrivatePostgres> {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  const version = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (version === undefined) {
    throw new Error(
      'PostgreSQL server binaries not found in /usr/lib/postgresql (run npm run setup)',
    );
  }
  const bin = (name: string) => `/usr/lib/postgresql/${version}/bin/${name}`;
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await execFileAsync('id', ['-u', 'postgres']);
    chownSync(folder, Number(stdout.trim()), -1);
  }
  const run = (command: string, args: string[]) =>
    execFileAsync(
      asRoot ? 'runuser' : command,
      asRoot ? ['-u', 'postgres', '--', command, ...args] : args,
    );
  const port = await freePort();
  const data = path.join(folder, 'data');
  await run(bin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const pgCtl = (...args: string[]) => run(bin('pg_ctl'), ['-D', data, '-w', ...args]);
  const settings = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () =>
    pgCtl(
      '-l',
      path.join(folder, 'log'),
      '-o',
      options.maxConnections
        ? `${settings} -c max_connections=${options.maxConnections}`
        : settings,
      'start',
    );
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    postmasterPid: () =>
      Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    start,
    stop: () => pgCtl('-m', 'fast', 'stop'),
    async remove() {
      await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
