import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AutoConfiguredClient } from '../../preload/contract.js';
import { clientConfigPath, isClientInstalled, type ClientEnvironment } from '../clients/index.js';
import { resolveRealPath } from '../clients/config-file.js';
import { DesktopError } from '../errors.js';
import type { AutoConfiguredRecord } from '../state/settings.js';
import type { ClientConfiguration } from './client-configuration.js';
import type { CoreSettings } from './core-memory.js';

/** The one client the product configures by itself after sign-in. */
const autoClient = 'cursor';
/** The copy of the file as it was, beside it, until the user keeps or undoes the change. */
const undoSuffix = '.pm-mcp.undo';

export interface CursorAutoConfigure {
  /**
   * After sign-in: when the setting is on, Cursor is installed and its user file has no
   * `pm-server` entry, writes it (through the proxy) and records how to undo it. Returns what it
   * did, or `null` when it did nothing. A failure (e.g. Cursor's file does not parse) leaves the
   * file as it was and does not fail the sign-in.
   */
  afterSignIn(): Promise<AutoConfiguredClient | null>;
  /** What was configured and may still be undone. */
  pending(): Promise<AutoConfiguredClient | null>;
  /**
   * Restores the file exactly as it was (removed when we created it) when it still holds what we
   * wrote; otherwise, so the user's later edits survive, removes only our entry. Turns the
   * setting off, so the next sign-in does not write it again. Returns what it did, in words.
   */
  undo(): Promise<string>;
  /** Keeps the entry; drops the undo copy. */
  keep(): Promise<void>;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function readIfPresent(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DesktopError('config_io', `Could not read ${file}: ${String(error)}`, {
      cause: error,
    });
  }
}

/** Temp file in the same folder with the mode set, fsync, rename: all or nothing. */
async function writeBytesAtomically(file: string, bytes: Buffer, mode: number): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.pm-mcp.tmp`,
  );
  try {
    const handle = await fs.open(temp, 'wx', mode);
    try {
      await handle.writeFile(bytes);
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw new DesktopError('config_io', `Could not restore ${file}: ${String(error)}`, {
      cause: error,
    });
  }
}

const shown = (record: AutoConfiguredRecord): AutoConfiguredClient => ({
  client: record.client,
  label: 'Cursor',
  path: record.path,
  at: record.at,
});

export function createCursorAutoConfigure(options: {
  settings: CoreSettings;
  clients: ClientConfiguration;
  environment: ClientEnvironment;
  now: () => Date;
}): CursorAutoConfigure {
  const { settings, clients, environment, now } = options;

  async function forget(
    record: AutoConfiguredRecord | null,
    change: { autoConfigureCursor?: boolean } = {},
  ): Promise<void> {
    if (record?.undoCopyPath) await fs.rm(record.undoCopyPath, { force: true });
    await settings.update((current) => ({ ...current, ...change, autoConfigured: null }));
  }

  return {
    async afterSignIn() {
      const s = await settings.load();
      if (!s.autoConfigureCursor) return null;
      if (!(await isClientInstalled(autoClient, environment))) return null;
      try {
        const statuses = await clients.statuses(s);
        const cursor = statuses.all.find((c) => c.client === autoClient);
        if (cursor?.state !== 'missing') return null; // ours is there (or the file is broken)

        const file = clientConfigPath(autoClient, { environment });
        const realPath = await resolveRealPath(file);
        const original = await readIfPresent(realPath);
        const originalMode = original ? (await fs.stat(realPath)).mode & 0o7777 : null;
        let undoCopyPath: string | null = null;
        if (original) {
          // The exact bytes, private to the user (the file may hold other servers' tokens).
          undoCopyPath = realPath + undoSuffix;
          await fs.writeFile(undoCopyPath, original, { mode: 0o600 });
          await fs.chmod(undoCopyPath, 0o600);
        }
        const copy = undoCopyPath;
        const change = await clients
          .change('configure', autoClient, {})
          .catch(async (error: unknown) => {
            if (copy !== null) await fs.rm(copy, { force: true });
            throw error;
          });
        const written = await readIfPresent(realPath);
        const record: AutoConfiguredRecord = {
          client: autoClient,
          path: change.path,
          realPath,
          at: now().toISOString(),
          createdFile: original === null,
          undoCopyPath,
          originalMode,
          writtenSha256: written ? sha256(written) : '',
        };
        await settings.update((current) => ({ ...current, autoConfigured: record }));
        return shown(record);
      } catch {
        // Nothing to undo when nothing was written; the state shows the file's problem.
        return null;
      }
    },

    async pending() {
      const record = (await settings.cached()).autoConfigured;
      return record ? shown(record) : null;
    },

    async undo() {
      const record = (await settings.load()).autoConfigured;
      if (record === null) {
        throw new DesktopError('not_found', 'Nothing was configured automatically to undo');
      }
      const now = await readIfPresent(record.realPath);
      const untouched = now !== null && sha256(now) === record.writtenSha256;
      let done: string;
      if (untouched && record.createdFile) {
        await fs.rm(record.realPath, { force: true });
        done = `Removed ${record.path}, which PM MCP had created.`;
      } else if (untouched && record.undoCopyPath) {
        const original = await fs.readFile(record.undoCopyPath);
        await writeBytesAtomically(record.realPath, original, record.originalMode ?? 0o644);
        done = `Restored ${record.path} as it was.`;
      } else {
        // Changed since (Cursor or the user wrote to it): keep their changes, remove only ours.
        await clients.change('unconfigure', autoClient, {});
        done = `${record.path} changed since, so only the pm-server entry was removed.`;
      }
      await clients.forgetConfigured(autoClient);
      await forget(record, { autoConfigureCursor: false });
      return `${done} PM MCP will not configure Cursor by itself again (Settings turn it back on).`;
    },

    async keep() {
      await forget((await settings.load()).autoConfigured);
    },
  };
}
