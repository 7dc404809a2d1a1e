import { promises as fs } from 'node:fs';

/**
 * Whether a client is installed, judged by the folders it creates for itself on first run (its
 * settings or user-data folder). Only paths under the injected environment are looked at, so the
 * answer is the same for the CLI, the app and a test's temporary HOME. A folder we created by
 * configuring the client also counts: it then has our entry to keep true anyway.
 */
export async function anyPathExists(paths: readonly string[]): Promise<boolean> {
  for (const candidate of paths) {
    try {
      await fs.stat(candidate);
      return true;
    } catch {
      // Missing or unreadable: try the next one.
    }
  }
  return false;
}
