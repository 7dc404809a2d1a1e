import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { clientIds } from '../../preload/contract.js';
import { DesktopError } from '../errors.js';

/** A stable default so the written client configs keep working across restarts. */
export const defaultProxyPort = 8765;

const isoDate = z.string().min(1);

const accountSchema = z.object({
  userId: z.string().min(1),
  email: z.string().min(1),
  name: z.string().nullable(),
});

/** This machine's key as the server described it. Never the key itself. */
const machineKeySchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  prefix: z.string(),
  scope: z.enum(['read', 'write']),
  createdAt: isoDate,
  expiresAt: isoDate.nullable(),
});

const configuredClientSchema = z.object({
  client: z.enum(clientIds),
  /** `null` for the client's user-level file. */
  project: z.string().nullable(),
  mode: z.enum(['proxy', 'direct']),
});

/**
 * What the app configured by itself (Cursor after sign-in), so it can be undone, also from
 * another process: the file's original bytes are in `undoCopyPath` (beside it, mode 0600), or the
 * file did not exist; `writtenSha256` tells whether the file still holds what we wrote.
 */
const autoConfiguredSchema = z.object({
  client: z.enum(clientIds),
  path: z.string().min(1),
  realPath: z.string().min(1),
  at: isoDate,
  createdFile: z.boolean(),
  undoCopyPath: z.string().nullable(),
  originalMode: z.number().int().nullable(),
  writtenSha256: z.string(),
});

export const settingsFileSchema = z.object({
  version: z.literal(1),
  serverUrl: z.string().nullable(),
  allowInsecure: z.boolean(),
  account: accountSchema.nullable(),
  machineKey: machineKeySchema.nullable(),
  proxyPort: z.number().int().min(1).max(65_535),
  startAtLogin: z.boolean(),
  configuredClients: z.array(configuredClientSchema),
  /** When the local proxy token last changed (not the token): other processes re-read it. */
  localTokenChangedAt: z.string().nullable().default(null),
  /** After sign-in, configure Cursor when it is installed and has no entry. */
  autoConfigureCursor: z.boolean().default(true),
  autoConfigured: autoConfiguredSchema.nullable().default(null),
});

export type SettingsFile = z.infer<typeof settingsFileSchema>;
export type MachineKey = z.infer<typeof machineKeySchema>;
export type AccountSettings = z.infer<typeof accountSchema>;
export type ConfiguredClient = z.infer<typeof configuredClientSchema>;
export type AutoConfiguredRecord = z.infer<typeof autoConfiguredSchema>;

export function defaultSettings(): SettingsFile {
  return {
    version: 1,
    serverUrl: null,
    allowInsecure: false,
    account: null,
    machineKey: null,
    proxyPort: defaultProxyPort,
    startAtLogin: false,
    configuredClients: [],
    localTokenChangedAt: null,
    autoConfigureCursor: true,
    autoConfigured: null,
  };
}

export interface SettingsStore {
  /** `<config folder>/settings.json`. */
  readonly path: string;
  readonly configDir: string;
  /** The saved settings, or the defaults when there is no file yet. A corrupt file throws. */
  load(): Promise<SettingsFile>;
  save(settings: SettingsFile): Promise<void>;
  /** Reads, applies `change`, writes atomically; returns what was written. */
  update(change: (current: SettingsFile) => SettingsFile): Promise<SettingsFile>;
}

/** The settings file: validated on every read, written atomically, never a secret in it. */
export function createSettingsStore(configDir: string): SettingsStore {
  const file = path.join(configDir, 'settings.json');
  // Updates in one process run one after another so none is lost.
  let queue: Promise<unknown> = Promise.resolve();

  const load = async (): Promise<SettingsFile> => {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if (isNodeError(error) && error.code === 'ENOENT') return defaultSettings();
      throw new DesktopError(
        'config_io',
        `Cannot read the settings file ${file}: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw corrupt(file, 'it is not valid JSON', error);
    }
    const parsed = settingsFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      throw corrupt(file, `${where}${issue?.message ?? 'unexpected content'}`, parsed.error);
    }
    return parsed.data;
  };

  const save = async (settings: SettingsFile): Promise<void> => {
    const valid = settingsFileSchema.parse(settings);
    await writeFileAtomically(file, `${JSON.stringify(valid, null, 2)}\n`);
  };

  return {
    path: file,
    configDir,
    load,
    save,
    update(change) {
      const next = queue.then(async () => {
        const updated = change(await load());
        await save(updated);
        return updated;
      });
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

function corrupt(file: string, reason: string, cause: unknown): DesktopError {
  return new DesktopError(
    'config_unparseable',
    `The settings file ${file} is corrupt (${reason}). Fix it or delete it; it holds no secret, ` +
      'so deleting it only forgets the server, the signed-in user and the proxy port',
    { cause },
  );
}

/** Temp file in the same folder, fsync, rename: a reader sees the old file or the new one. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  const folder = path.dirname(file);
  const temp = path.join(folder, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.mkdir(folder, { recursive: true, mode: 0o700 });
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw new DesktopError('config_io', `Cannot write ${file}: ${String(error)}`, { cause: error });
  }
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
