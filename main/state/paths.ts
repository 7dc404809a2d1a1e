import path from 'node:path';

export interface ConfigDirEnvironment {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  homeDir: string;
}

/**
 * The folder the tray app and the CLI share: `PM_MCP_HOME` when set, else the OS convention
 * (Linux `$XDG_CONFIG_HOME/pm-mcp` or `~/.config/pm-mcp`, macOS
 * `~/Library/Application Support/pm-mcp`, Windows `%APPDATA%\pm-mcp`). It never holds a secret.
 */
export function resolveConfigDir({ env, platform, homeDir }: ConfigDirEnvironment): string {
  const explicit = nonEmpty(env.PM_MCP_HOME);
  if (explicit) return path.resolve(explicit);
  switch (platform) {
    case 'darwin':
      return path.posix.join(homeDir, 'Library', 'Application Support', 'pm-mcp');
    case 'win32':
      return path.win32.join(
        nonEmpty(env.APPDATA) ?? path.win32.join(homeDir, 'AppData', 'Roaming'),
        'pm-mcp',
      );
    default: {
      const xdg = nonEmpty(env.XDG_CONFIG_HOME);
      // XDG says a relative value is invalid and must be ignored.
      const base = xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(homeDir, '.config');
      return path.posix.join(base, 'pm-mcp');
    }
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
