import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
export const compiledServerCli = path.join(root, 'dist/server/cli.js');
/** The operator's bin: it runs the compiled server when the build is current. */
export const serverBin = path.join(root, 'bin/pm-mcp-server.js');

function newestSource(): number {
  let newest = 0;
  for (const folder of ['server', 'server-migrations']) {
    for (const entry of readdirSync(path.join(root, folder), { recursive: true })) {
      if (String(entry).endsWith('.ts'))
        newest = Math.max(newest, statSync(path.join(root, folder, String(entry))).mtimeMs);
    }
  }
  return newest;
}

const isCurrent = (): boolean =>
  existsSync(compiledServerCli) && statSync(compiledServerCli).mtimeMs >= newestSource();

/**
 * Makes sure `dist/server` is built from the current sources (`npm test` builds it first; a test
 * file run on its own builds it here). Test files run in parallel: one builds under a lock
 * folder, the others wait for it.
 */
export async function ensureServerBuild(): Promise<void> {
  if (isCurrent()) return;
  const lock = path.join(root, 'dist', '.server-build.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (isCurrent()) return;
      // A lock older than the slowest build is left over from a killed run.
      const lockedAt = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - lockedAt > 300_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (!isCurrent()) {
      await promisify(execFile)(
        process.execPath,
        [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.server.json'],
        { cwd: root },
      );
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
