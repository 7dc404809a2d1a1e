import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * A lock file in the config folder around session refreshes. Refresh tokens rotate and the server
 * treats a token used twice as stolen (it revokes the whole family), so the tray app and a `pm-mcp`
 * command must never refresh at the same moment with the same token.
 */
export async function withFileLock<T>(
  lockFile: string,
  run: () => Promise<T>,
  options: { waitMs?: number; staleMs?: number } = {},
): Promise<T> {
  const waitMs = options.waitMs ?? 15_000;
  const staleMs = options.staleMs ?? 30_000;
  const deadline = Date.now() + waitMs;
  await fs.mkdir(path.dirname(lockFile), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const handle = await fs.open(lockFile, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
      const stat = await fs.stat(lockFile).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > staleMs) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      // Past the deadline the other holder is taken to be gone.
      if (Date.now() > deadline) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await run();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}
