import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DesktopError } from '../../main/errors.js';
import { resolveConfigDir } from '../../main/state/paths.js';
import {
  createSettingsStore,
  defaultProxyPort,
  defaultSettings,
} from '../../main/state/settings.js';

const folders: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-mcp-state-'));
  folders.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('config folder', () => {
  it('is PM_MCP_HOME when set', () => {
    expect(
      resolveConfigDir({ env: { PM_MCP_HOME: '/srv/pm' }, platform: 'linux', homeDir: '/home/a' }),
    ).toBe('/srv/pm');
  });

  it('follows each OS convention', () => {
    expect(resolveConfigDir({ env: {}, platform: 'linux', homeDir: '/home/a' })).toBe(
      '/home/a/.config/pm-mcp',
    );
    expect(
      resolveConfigDir({
        env: { XDG_CONFIG_HOME: '/x/cfg' },
        platform: 'linux',
        homeDir: '/home/a',
      }),
    ).toBe('/x/cfg/pm-mcp');
    expect(
      resolveConfigDir({ env: { XDG_CONFIG_HOME: 'relative' }, platform: 'linux', homeDir: '/h' }),
    ).toBe('/h/.config/pm-mcp');
    expect(resolveConfigDir({ env: {}, platform: 'darwin', homeDir: '/Users/a' })).toBe(
      '/Users/a/Library/Application Support/pm-mcp',
    );
    expect(
      resolveConfigDir({
        env: { APPDATA: 'C:\\Users\\a\\AppData\\Roaming' },
        platform: 'win32',
        homeDir: 'C:\\Users\\a',
      }),
    ).toBe('C:\\Users\\a\\AppData\\Roaming\\pm-mcp');
  });
});

describe('settings file', () => {
  it('starts from defaults with a stable proxy port and writes atomically with no temp left', async () => {
    const dir = path.join(tempDir(), 'nested', 'pm-mcp');
    const store = createSettingsStore(dir);
    expect(await store.load()).toEqual(defaultSettings());
    expect(defaultSettings().proxyPort).toBe(defaultProxyPort);
    await store.update((s) => ({ ...s, serverUrl: 'https://pm.example.com', startAtLogin: true }));
    const reloaded = await createSettingsStore(dir).load();
    expect(reloaded.serverUrl).toBe('https://pm.example.com');
    expect(reloaded.startAtLogin).toBe(true);
    expect(readdirSync(dir)).toEqual(['settings.json']);
    expect(statSync(store.path).mode & 0o077).toBe(0);
  });

  it('refuses a corrupt file with an error naming it, and leaves it untouched', async () => {
    const dir = tempDir();
    const store = createSettingsStore(dir);
    writeFileSync(store.path, '{"version": 1, "serverUrl": ');
    const error = await store.load().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DesktopError);
    expect((error as DesktopError).code).toBe('config_unparseable');
    expect((error as DesktopError).message).toContain(store.path);
    await expect(store.update((s) => s)).rejects.toThrow(/corrupt/);
    expect(readFileSync(store.path, 'utf8')).toBe('{"version": 1, "serverUrl": ');
  });

  it('refuses a file with a wrong field, naming the field', async () => {
    const store = createSettingsStore(tempDir());
    writeFileSync(store.path, JSON.stringify({ ...defaultSettings(), proxyPort: 'eighty' }));
    await expect(store.load()).rejects.toThrow(/proxyPort/);
  });

  it('loses no update when several run at once', async () => {
    const store = createSettingsStore(tempDir());
    await Promise.all([
      store.update((s) => ({ ...s, startAtLogin: true })),
      store.update((s) => ({ ...s, proxyPort: 9999 })),
      store.update((s) => ({ ...s, serverUrl: 'https://a.example' })),
    ]);
    expect(await store.load()).toMatchObject({
      startAtLogin: true,
      proxyPort: 9999,
      serverUrl: 'https://a.example',
    });
  });
});
