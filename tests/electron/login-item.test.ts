import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyStartAtLogin,
  autostartEntry,
  autostartFile,
} from '../../main/electron/login-item.js';

let home: string;
const calls: { openAtLogin: boolean; args?: string[] }[] = [];

beforeEach(() => {
  home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-login-'));
  calls.length = 0;
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const environment = (platform: NodeJS.Platform, env: Record<string, string> = {}) => ({
  platform,
  setLoginItemSettings: (settings: { openAtLogin: boolean; args?: string[] }) =>
    calls.push(settings),
  executablePath: '/opt/PM MCP/pm-mcp',
  homeDir: home,
  env,
});

describe('start at login', () => {
  it('on Linux writes and removes an XDG autostart entry that starts the app hidden', async () => {
    await applyStartAtLogin(true, environment('linux'));
    const file = path.join(home, '.config', 'autostart', 'pm-mcp.desktop');
    expect(readFileSync(file, 'utf8')).toContain('Exec="/opt/PM MCP/pm-mcp" --hidden\n');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(calls).toHaveLength(0);

    await applyStartAtLogin(false, environment('linux'));
    expect(() => statSync(file)).toThrow();
    // Turning it off twice is fine.
    await applyStartAtLogin(false, environment('linux'));
  });

  it('honours an absolute XDG_CONFIG_HOME and ignores a relative one', () => {
    expect(autostartFile({ homeDir: home, env: { XDG_CONFIG_HOME: '/xdg' } })).toBe(
      path.join('/xdg', 'autostart', 'pm-mcp.desktop'),
    );
    expect(autostartFile({ homeDir: home, env: { XDG_CONFIG_HOME: 'rel' } })).toBe(
      path.join(home, '.config', 'autostart', 'pm-mcp.desktop'),
    );
  });

  it('quotes the executable so a path with quotes or $ cannot inject a command', () => {
    expect(autostartEntry('/opt/a"b$c/app')).toContain('Exec="/opt/a\\"b\\$c/app" --hidden');
  });

  it.each(['darwin', 'win32'] as const)('on %s uses app.setLoginItemSettings', async (platform) => {
    await applyStartAtLogin(true, environment(platform));
    await applyStartAtLogin(false, environment(platform));
    expect(calls).toEqual([
      { openAtLogin: true, args: ['--hidden'] },
      { openAtLogin: false, args: ['--hidden'] },
    ]);
  });
});
