import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DesktopError, isDesktopError } from '../errors.js';
import type { ConfigFormat } from './document.js';
import { formatNames, parseConfigDocument } from './document.js';
import type { JsonObject } from './jsonc-edit.js';
import { mcpKeysIn, withoutMcpKeys } from './secret-scrub.js';

/**
 * Reading and writing an editor's config file without ever losing what is in it:
 * symlinks followed (the target is edited, the link stays a link), a one-time backup of the
 * original with every MCP key removed from it, a re-read just before writing that refuses if another program wrote meanwhile, and
 * an atomic replace (temp file in the same folder, fsync, rename).
 */

/** Suffix of the one backup kept beside the real file, made before our first change. */
export const backupSuffix = '.pm-mcp.bak';

const utf8Bom = '\ufeff';

/** The file as it was when read. */
export interface ConfigSnapshot {
  /** The path as asked for (may be a symlink). */
  path: string;
  /** Where the content really is: symlinks resolved. Reads and writes go here. */
  realPath: string;
  exists: boolean;
  /** The exact bytes read (`null` when the file does not exist). */
  bytes: Buffer | null;
  /** The text, without a leading byte order mark. */
  text: string;
  /** Whether the file started with a UTF-8 byte order mark (kept on write). */
  bom: boolean;
  /** Permission bits (`0o644`…), `null` when the file does not exist. */
  mode: number | null;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function ioError(filePath: string, doing: string, error: unknown): DesktopError {
  const code = errorCode(error);
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EISDIR'
        ? 'it is a folder'
        : code === 'ENOTDIR'
          ? 'a part of the path is not a folder'
          : code === 'EROFS'
            ? 'the file system is read-only'
            : (code ?? 'unexpected error');
  return new DesktopError('config_io', `Could not ${doing} ${filePath}: ${reason}.`, {
    cause: error,
  });
}

/**
 * Where a path's content lives. A missing file resolves to itself; a dangling symlink to the
 * (missing) file it points at, so creating it keeps the link.
 */
export async function resolveRealPath(filePath: string): Promise<string> {
  try {
    return await fs.realpath(filePath);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw ioError(filePath, 'resolve', error);
  }
  let current = path.resolve(filePath);
  for (let hops = 0; hops < 40; hops++) {
    let isLink: boolean;
    try {
      isLink = (await fs.lstat(current)).isSymbolicLink();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return current;
      throw ioError(filePath, 'resolve', error);
    }
    if (!isLink) return current;
    current = path.resolve(path.dirname(current), await fs.readlink(current));
  }
  throw new DesktopError('config_io', `Could not resolve ${filePath}: too many symbolic links.`);
}

async function readBytesIfPresent(realPath: string, shownPath: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(realPath);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw ioError(shownPath, 'read', error);
  }
}

/** Reads the file (following symlinks). Missing is fine; unreadable throws `config_io`. */
export async function readConfigSnapshot(filePath: string): Promise<ConfigSnapshot> {
  const realPath = await resolveRealPath(filePath);
  const bytes = await readBytesIfPresent(realPath, filePath);
  if (bytes === null) {
    return { path: filePath, realPath, exists: false, bytes, text: '', bom: false, mode: null };
  }
  let mode: number;
  try {
    mode = (await fs.stat(realPath)).mode & 0o7777;
  } catch (error) {
    throw ioError(filePath, 'read', error);
  }
  const decoded = bytes.toString('utf8');
  const bom = decoded.startsWith(utf8Bom);
  const text = bom ? decoded.slice(utf8Bom.length) : decoded;
  return { path: filePath, realPath, exists: true, bytes, text, bom, mode };
}

/** The parsed document, or `config_unparseable` naming the file and where it breaks. */
export function parseSnapshot(snapshot: ConfigSnapshot, format: ConfigFormat = 'json'): JsonObject {
  const parsed = parseConfigDocument(format, snapshot.text);
  if (parsed.ok) return parsed.root;
  throw unparseableError(snapshot.path, parsed.problem, format);
}

export function unparseableError(
  filePath: string,
  problem: string,
  format: ConfigFormat = 'json',
): DesktopError {
  return new DesktopError(
    'config_unparseable',
    `${filePath} is not valid ${formatNames[format]}: ${problem}. It was left unchanged; fix it ` +
      '(or move it away) and try again.',
  );
}

function changedMeanwhileError(filePath: string): DesktopError {
  return new DesktopError(
    'config_changed_meanwhile',
    `${filePath} was changed by another program while PM MCP was editing it. Nothing was ` +
      'written; try again (if the editor keeps rewriting it, quit the editor first).',
  );
}

/** Refuses when the file no longer holds exactly what the snapshot read. */
async function assertUnchanged(snapshot: ConfigSnapshot): Promise<void> {
  const now = await readBytesIfPresent(snapshot.realPath, snapshot.path);
  const same =
    now === null || snapshot.bytes === null ? now === snapshot.bytes : now.equals(snapshot.bytes);
  if (!same) throw changedMeanwhileError(snapshot.path);
}

/** The original's bytes with every MCP key replaced by a marker (unchanged when there is none). */
function scrubbed(original: Buffer): { bytes: Buffer; keys: string[] } {
  const text = original.toString('utf8');
  const keys = mcpKeysIn(text);
  return keys.length === 0
    ? { bytes: original, keys }
    : { bytes: Buffer.from(withoutMcpKeys(text), 'utf8'), keys };
}

/**
 * Copies the original beside the real file, once, without any MCP key in it. An existing backup
 * is never replaced by a newer original, but one that still holds a key (written before keys were
 * removed from backups) is rewritten without it. Returns the keys kept out of the backup.
 */
async function backUpOnce(
  snapshot: ConfigSnapshot,
  original: Buffer,
): Promise<{ backupPath: string; keys: string[] }> {
  const backupPath = snapshot.realPath + backupSuffix;
  const clean = scrubbed(original);
  try {
    await fs.writeFile(backupPath, clean.bytes, { flag: 'wx', mode: 0o600 });
    return { backupPath, keys: clean.keys };
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw ioError(backupPath, 'write the backup', error);
  }
  return { backupPath, keys: await scrubExistingBackup(backupPath) };
}

/** Rewrites an existing backup without MCP keys (atomically); returns the keys it held. */
async function scrubExistingBackup(backupPath: string): Promise<string[]> {
  let existing: Buffer;
  try {
    existing = await fs.readFile(backupPath);
  } catch (error) {
    throw ioError(backupPath, 'read the backup', error);
  }
  const clean = scrubbed(existing);
  if (clean.keys.length === 0) return [];
  const tempPath = `${backupPath}.${randomBytes(6).toString('hex')}.pm-mcp.tmp`;
  try {
    await fs.writeFile(tempPath, clean.bytes, { flag: 'wx', mode: 0o600 });
    await fs.rename(tempPath, backupPath);
  } catch (error) {
    await fs.rm(tempPath, { force: true });
    throw ioError(backupPath, 'rewrite the backup', error);
  }
  return clean.keys;
}

export interface WriteOptions {
  /** Permission bits of the written file. */
  mode: number;
  /** Permission bits for folders we create. */
  dirMode: number;
  /** False on Windows, where permission bits mean little and folders cannot be fsynced. */
  posix: boolean;
}

/**
 * Replaces the file's content with `text`, safely: creates the folder, re-checks the file still
 * holds what the snapshot read, backs the original up once, writes a temp file in the same
 * folder (mode set, fsynced), checks again, and renames it over the real file.
 * Returns the backup's path, or `null` when the file did not exist before.
 */
export async function writeConfigText(
  snapshot: ConfigSnapshot,
  text: string,
  options: WriteOptions,
): Promise<{ backupPath: string | null; keysKeptOutOfBackup: string[] }> {
  const { realPath } = snapshot;
  const folder = path.dirname(realPath);
  const content = Buffer.from((snapshot.bom ? utf8Bom : '') + text, 'utf8');
  const tempPath = path.join(
    folder,
    `.${path.basename(realPath)}.${randomBytes(6).toString('hex')}.pm-mcp.tmp`,
  );
  let tempCreated = false;
  try {
    await fs.mkdir(folder, { recursive: true, mode: options.dirMode });
    await assertUnchanged(snapshot);
    const backup = snapshot.bytes === null ? null : await backUpOnce(snapshot, snapshot.bytes);

    const handle = await fs.open(tempPath, 'wx', options.mode);
    tempCreated = true;
    try {
      await handle.writeFile(content);
      // `open`'s mode is narrowed by the umask; set exactly what we mean.
      if (options.posix) await handle.chmod(options.mode);
      await handle.sync();
    } finally {
      await handle.close();
    }

    await assertUnchanged(snapshot);
    await fs.rename(tempPath, realPath);
    tempCreated = false;
    if (options.posix) await syncFolder(folder);
    return { backupPath: backup?.backupPath ?? null, keysKeptOutOfBackup: backup?.keys ?? [] };
  } catch (error) {
    if (tempCreated) await fs.rm(tempPath, { force: true });
    if (isDesktopError(error)) throw error;
    throw ioError(snapshot.path, 'write', error);
  }
}

/** Makes the rename durable; best effort (some file systems refuse to fsync a folder). */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await fs.open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The data itself was fsynced before the rename; losing only the rename is acceptable.
  }
}

/** Sets the permission bits of an unchanged file (e.g. 0600 on a file that holds a token). */
export async function setConfigMode(snapshot: ConfigSnapshot, mode: number): Promise<void> {
  try {
    await fs.chmod(snapshot.realPath, mode);
  } catch (error) {
    throw ioError(snapshot.path, 'set the permissions of', error);
  }
}

/**
 * Deletes a file that only ever held our entry (Continue's `pm-server.yaml` block), after the
 * same re-check as a write: refused if another program changed it since it was read.
 */
export async function removeConfigFile(snapshot: ConfigSnapshot): Promise<void> {
  try {
    await assertUnchanged(snapshot);
    await fs.rm(snapshot.realPath, { force: true });
  } catch (error) {
    if (isDesktopError(error)) throw error;
    throw ioError(snapshot.path, 'remove', error);
  }
}
