/**
 * Start at login. macOS and Windows: Electron's `app.setLoginItemSettings`. Linux has no such
 * API, so the freedesktop way: a `.desktop` file in `$XDG_CONFIG_HOME/autostart`. Either way the
 * app is started with `--hidden`, so logging in shows only the tray icon, not the window.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const hiddenFlag = '--hidden';

export interface LoginItemEnvironment {
  platform: NodeJS.Platform;
  /** `app.setLoginItemSettings`. */
  setLoginItemSettings(settings: { openAtLogin: boolean; args?: string[] }): void;
  /** What to start: the AppImage when run from one (`$APPIMAGE`), else the executable. */
  executablePath: string;
  homeDir: string;
  env: Readonly<Record<string, string | undefined>>;
}

export function autostartFile(environment: Pick<LoginItemEnvironment, 'homeDir' | 'env'>): string {
  const xdg = environment.env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(environment.homeDir, '.config');
  return path.join(base, 'autostart', 'pm-mcp.desktop');
}

/** Quotes an Exec argument as the Desktop Entry Specification asks. */
function desktopExecArgument(value: string): string {
  return `"${value.replace(/(["`$\\])/g, '\\$1')}"`;
}

export function autostartEntry(executablePath: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=PM MCP',
    'Comment=Connects your AI editor to Jira and OpenProject',
    `Exec=${desktopExecArgument(executablePath)} ${hiddenFlag}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export async function applyStartAtLogin(
  enabled: boolean,
  environment: LoginItemEnvironment,
): Promise<void> {
  if (environment.platform === 'darwin' || environment.platform === 'win32') {
    environment.setLoginItemSettings({ openAtLogin: enabled, args: [hiddenFlag] });
    return;
  }
  const file = autostartFile(environment);
  if (enabled) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, autostartEntry(environment.executablePath), { mode: 0o644 });
  } else {
    await fs.rm(file, { force: true });
  }
}
