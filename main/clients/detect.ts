import { promises as fs } from 'node:fs';
import type { ClientEnvironment } from './environment.js';
import { pathFor } from './environment.js';

async function exists(filePath: string): Promise<boolean> {
  try {
    await fs.stat(filePath);
    return true;
  } catch {
    return false;
  }
}

/** Whether `name` is a program in one of the environment's PATH folders. */
export async function isOnPath(name: string, environment: ClientEnvironment): Promise<boolean> {
  const p = pathFor(environment.platform);
  const windows = environment.platform === 'win32';
  const folders = (environment.env.PATH ?? environment.env.Path ?? '').split(windows ? ';' : ':');
  const names = windows ? [`${name}.exe`, `${name}.cmd`, name] : [name];
  for (const folder of folders) {
    if (folder === '' || !p.isAbsolute(folder)) continue;
    for (const candidate of names) {
      if (await exists(p.join(folder, candidate))) return true;
    }
  }
  return false;
}

/** True when any evidence path exists or any evidence command is on PATH. */
export async function anyEvidence(
  evidence: { paths: readonly string[]; commands: readonly string[] },
  environment: ClientEnvironment,
): Promise<boolean> {
  for (const filePath of evidence.paths) if (await exists(filePath)) return true;
  for (const command of evidence.commands) if (await isOnPath(command, environment)) return true;
  return false;
}
