import path from 'node:path';
import { DesktopError } from '../errors.js';

/**
 * Everything a client's file path depends on, passed in rather than read from `process`/`os`, so
 * tests (and `pm-mcp` under a temporary HOME) compute paths for any OS. Same shape as the state
 * module's `ConfigDirEnvironment`, so one value serves both.
 */
export interface ClientEnvironment {
  homeDir: string;
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
}

/** `user`: the editor's per-user file. `project`: a file inside a project folder (may be committed). */
export type ClientScope = 'user' | 'project';

export interface ClientOptions {
  environment: ClientEnvironment;
  /** Absolute path of a project folder; when given, the project-level file is used. */
  projectDir?: string;
}

/** `path.win32` for Windows paths, `path.posix` for everything else, whatever this machine runs. */
export function pathFor(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/**
 * Where desktop apps keep per-user settings: Electron's `appData` (`%APPDATA%`,
 * `~/Library/Application Support`, `$XDG_CONFIG_HOME` or `~/.config`).
 */
export function appDataDir({ homeDir, platform, env }: ClientEnvironment): string {
  const p = pathFor(platform);
  switch (platform) {
    case 'darwin':
      return p.join(homeDir, 'Library', 'Application Support');
    case 'win32':
      return nonEmpty(env.APPDATA) ?? p.join(homeDir, 'AppData', 'Roaming');
    default: {
      const xdg = nonEmpty(env.XDG_CONFIG_HOME);
      // XDG says a relative value is invalid and must be ignored.
      return xdg && p.isAbsolute(xdg) ? xdg : p.join(homeDir, '.config');
    }
  }
}

/** The project folder, checked: it must be absolute (the CLI resolves `--project` first). */
export function requireProjectDir(options: ClientOptions): string {
  const { projectDir, environment } = options;
  if (projectDir === undefined) {
    throw new DesktopError(
      'usage',
      'A project folder is needed for a project-level configuration.',
    );
  }
  if (!pathFor(environment.platform).isAbsolute(projectDir)) {
    throw new DesktopError(
      'usage',
      `The project folder must be an absolute path (got "${projectDir}").`,
    );
  }
  return projectDir;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
