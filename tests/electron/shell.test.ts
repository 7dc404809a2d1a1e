import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ipcChannel, type AppState } from '../../preload/contract.js';
import { runAppCli, startShell, type ShellEnvironment } from '../../main/electron/shell.js';
import { trayMenuIds } from '../../main/electron/tray.js';
import { DesktopError } from '../../main/errors.js';
import { standIn } from './electron-stand-in.js';
import { createCoreStandIn, makeState, type CoreStandIn } from './core-stand-in.js';

vi.mock('electron', async () => (await import('./electron-stand-in.js')).standIn.module);

const appRoot = path.resolve('/opt/pm-mcp-test-app');
const appPage = pathToFileURL(path.join(appRoot, 'renderer', 'dist', 'index.html')).href;
let home: string;
let core: CoreStandIn;
const logs: string[] = [];

function environment(overrides: Partial<ShellEnvironment> = {}): ShellEnvironment {
  return { argv: ['electron', '.'], env: {}, platform: 'linux', homeDir: home, ...overrides };
}

async function start(
  overrides: Partial<ShellEnvironment> = {},
  state: AppState = makeState(),
): Promise<CoreStandIn> {
  core = createCoreStandIn(state);
  await startShell({
    appRoot,
    environment: environment(overrides),
    createCore: () => core,
    log: (line) => logs.push(line),
  });
  return core;
}

function tray() {
  const only = standIn.trays[0];
  if (!only || standIn.trays.length !== 1) throw new Error('expected exactly one tray');
  return only;
}

function openWindows() {
  return standIn.windows.filter((window) => !window.destroyed);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

beforeEach(() => {
  standIn.reset();
  logs.length = 0;
  home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-shell-'));
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe('the Electron shell', () => {
  it('gives every window the secure webPreferences and the bundled preload', async () => {
    await start();
    // Reopen from the tray, from a second launch, and after closing the window.
    tray().clickMenuItem(trayMenuIds.open);
    standIn.appEvents.emit('second-instance');
    standIn.windows[0]?.close();
    tray().clickMenuItem(trayMenuIds.open);

    expect(standIn.windows).toHaveLength(2);
    for (const window of standIn.windows) {
      expect(window.options.webPreferences).toMatchObject({
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
        preload: path.join(appRoot, 'dist', 'preload', 'index.cjs'),
      });
      expect(window.loaded.file).toBe(path.join(appRoot, 'renderer', 'dist', 'index.html'));
    }
  });

  it('keeps to one window: a second launch focuses it instead of opening another', async () => {
    await start();
    standIn.appEvents.emit('second-instance');
    tray().clickMenuItem(trayMenuIds.open);
    expect(openWindows()).toHaveLength(1);
    expect(standIn.windows[0]?.focused).toBe(2);
  });

  it('quits at once when another instance already runs, without starting any service', async () => {
    standIn.state.singleInstanceLock = false;
    let built = false;
    const running = await startShell({
      appRoot,
      environment: environment(),
      createCore: () => {
        built = true;
        return createCoreStandIn();
      },
    });
    expect(running).toBeUndefined();
    expect(standIn.state.quit).toBe(true);
    expect(built).toBe(false);
    expect(standIn.windows).toHaveLength(0);
  });

  it('prevents navigation away from the app page and opens only allow-listed https links outside', async () => {
    await start();
    const contents = standIn.windows[0]?.webContents;
    if (!contents) throw new Error('no window');

    expect(contents.attemptNavigation('https://evil.example/phish')).toBe(true);
    expect(contents.attemptNavigation('file:///etc/passwd')).toBe(true);
    expect(
      contents.attemptNavigation('https://id.atlassian.com/manage-profile/security/api-tokens'),
    ).toBe(true);
    expect(contents.attemptNavigation('http://id.atlassian.com/')).toBe(true);
    expect(contents.attemptAttachWebview()).toBe(true);
    await settle();
    expect(standIn.state.openedExternally).toEqual([
      'https://id.atlassian.com/manage-profile/security/api-tokens',
    ]);
  });

  it('denies every new window; an allow-listed https link opens in the browser instead', async () => {
    await start();
    const contents = standIn.windows[0]?.webContents;
    if (!contents) throw new Error('no window');
    expect(contents.attemptOpenWindow('https://evil.example/')).toBe('deny');
    expect(contents.attemptOpenWindow('javascript:alert(1)')).toBe('deny');
    expect(contents.attemptOpenWindow('https://user:pw@id.atlassian.com/')).toBe('deny');
    expect(contents.attemptOpenWindow('https://www.openproject.org/docs/')).toBe('deny');
    await settle();
    expect(standIn.state.openedExternally).toEqual(['https://www.openproject.org/docs/']);
  });

  it('denies every permission request and permission check', async () => {
    await start();
    const request = standIn.state.permissionRequestHandler;
    const check = standIn.state.permissionCheckHandler;
    if (!request || !check) throw new Error('permission handlers not installed');
    for (const permission of [
      'media',
      'notifications',
      'geolocation',
      'clipboard-read',
      'openExternal',
    ]) {
      const answers: boolean[] = [];
      request({}, permission, (granted) => answers.push(granted));
      expect(answers).toEqual([false]);
      expect(check({}, permission)).toBe(false);
    }
  });

  it('registers a handler for every contract method that refuses a foreign page', async () => {
    await start();
    const reply = await standIn.invoke(ipcChannel('getState'), { url: 'https://evil.example/' });
    expect(reply).toEqual({
      ok: false,
      error: { code: 'forbidden_sender', message: expect.any(String) as string },
    });
    expect(core.calls.filter((call) => call.method === 'getState')).toHaveLength(0);
    const own = await standIn.invoke(ipcChannel('getState'), { url: appPage });
    expect(own).toMatchObject({ ok: true, value: { summary: 'Connected' } });
    expect(
      logs.some((line) => line.includes('refused getState') && line.includes('evil.example')),
    ).toBe(true);
  });

  it('pushes every state change to the window and the tray', async () => {
    await start();
    const next = makeState({
      summary: 'Key rejected: get a new one',
      level: 'attention',
      keyHealth: 'rejected',
    });
    core.emit(next);
    const window = standIn.windows[0];
    expect(window?.webContents.sent).toContainEqual({
      channel: ipcChannel('stateChanged'),
      args: [next],
    });
    expect(tray().toolTip).toBe('PM MCP: Key rejected: get a new one');
  });

  it('starts hidden (tray only) when launched at login with --hidden', async () => {
    await start({ argv: ['pm-mcp', '--hidden'] });
    expect(standIn.windows).toHaveLength(0);
    expect(standIn.trays).toHaveLength(1);
  });

  it('points a signed-out install at the server npm start launched (PM_MCP_SERVER_URL)', async () => {
    const signedOut = makeState({
      user: null,
      serverUrl: null,
      level: 'signed-out',
      summary: 'Signed out',
    });
    core = createCoreStandIn(signedOut);
    core.settings = {
      serverUrl: null,
      proxyPort: 8765,
      startAtLogin: false,
      autoConfigureCursor: true,
    };
    await startShell({
      appRoot,
      environment: environment({ env: { PM_MCP_SERVER_URL: 'http://127.0.0.1:8080' } }),
      createCore: () => core,
      log: (line) => logs.push(line),
    });
    expect(core.calls).toContainEqual({
      method: 'updateSettings',
      args: [{ serverUrl: 'http://127.0.0.1:8080' }],
    });
  });

  it('applies "start at login" to the OS when the window changes it (Linux autostart entry)', async () => {
    await start();
    const autostart = path.join(home, '.config', 'autostart', 'pm-mcp.desktop');
    expect(existsSync(autostart)).toBe(false);

    const on = await standIn.invoke(
      ipcChannel('updateSettings'),
      { url: appPage },
      { startAtLogin: true },
    );
    expect(on).toMatchObject({ ok: true, value: { startAtLogin: true } });
    expect(readFileSync(autostart, 'utf8')).toMatch(/^Exec=".+" --hidden$/m);

    await standIn.invoke(ipcChannel('updateSettings'), { url: appPage }, { startAtLogin: false });
    expect(existsSync(autostart)).toBe(false);
  });

  it('applies "start at login" with app.setLoginItemSettings on macOS and Windows', async () => {
    await start({ platform: 'darwin' });
    await standIn.invoke(ipcChannel('updateSettings'), { url: appPage }, { startAtLogin: true });
    expect(standIn.state.loginItemSettings.at(-1)).toEqual({
      openAtLogin: true,
      args: ['--hidden'],
    });
  });

  it('stops the core (and its proxy) before quitting', async () => {
    await start();
    tray().clickMenuItem(trayMenuIds.quit);
    expect(standIn.state.quit).toBe(false);
    await settle();
    expect(core.calls.at(-1)).toEqual({ method: 'stop', args: [] });
    expect(standIn.state.quit).toBe(true);
    expect(tray().destroyed).toBe(true);
    expect(standIn.handlers.size).toBe(0);
  });
});

describe('the tray', () => {
  it('shows the icon for each state level', async () => {
    await start(undefined, makeState({ level: 'connected' }));
    await settle();
    const iconOf = () => (tray().image as { path: string }).path;
    expect(iconOf()).toBe(path.join(appRoot, 'build', 'tray', 'connected.png'));
    for (const level of ['attention', 'error', 'signed-out', 'connected'] as const) {
      core.emit(makeState({ level, summary: `now ${level}` }));
      expect(iconOf()).toBe(path.join(appRoot, 'build', 'tray', `${level}.png`));
    }
  });

  it('has a status line with the summary that cannot be clicked', async () => {
    await start(undefined, makeState({ summary: 'Connected · Cursor configured' }));
    await settle();
    const status = tray().menu?.template[0];
    expect(status).toMatchObject({
      id: 'status',
      label: 'Connected · Cursor configured',
      enabled: false,
    });
    expect(() => tray().clickMenuItem(trayMenuIds.status)).toThrow(/disabled/);
  });

  it('Configure Cursor asks the core to configure Cursor and says so', async () => {
    await start();
    await settle();
    tray().clickMenuItem(trayMenuIds.configureCursor);
    await settle();
    expect(core.calls).toContainEqual({ method: 'configureClient', args: ['cursor'] });
    expect(standIn.state.notifications.at(-1)?.body).toMatch(/Cursor is set up/);
  });

  it("Configure Cursor shows the core's reason and opens the window when it fails", async () => {
    await start({ argv: ['pm-mcp', '--hidden'] });
    await settle();
    core.failNext(
      'configureClient',
      new DesktopError(
        'config_unparseable',
        'Cursor’s mcp.json is not valid JSON; it was not changed',
      ),
    );
    tray().clickMenuItem(trayMenuIds.configureCursor);
    await settle();
    expect(standIn.state.notifications.at(-1)?.body).toBe(
      'Cursor’s mcp.json is not valid JSON; it was not changed',
    );
    expect(openWindows()).toHaveLength(1);
  });

  it('Configure Cursor is disabled while signed out', async () => {
    await start(undefined, makeState({ user: null, level: 'signed-out', summary: 'Signed out' }));
    await settle();
    expect(() => tray().clickMenuItem(trayMenuIds.configureCursor)).toThrow(/disabled/);
    expect(core.calls.some((call) => call.method === 'configureClient')).toBe(false);
  });

  it('Open opens the window', async () => {
    await start({ argv: ['pm-mcp', '--hidden'] });
    expect(openWindows()).toHaveLength(0);
    tray().clickMenuItem(trayMenuIds.open);
    expect(openWindows()).toHaveLength(1);
  });
});

describe('the packaged app as the pm-mcp command (--pm-mcp-cli)', () => {
  it('runs the command with no window, tray or notification, and exits with its code', async () => {
    const ran: (readonly string[])[] = [];
    const code = await runAppCli(['--home', home, 'bridge'], (args) => {
      ran.push(args);
      return Promise.resolve(3);
    });
    expect(code).toBe(3);
    expect(ran).toEqual([['--home', home, 'bridge']]);
    expect(standIn.state.exitCode).toBe(3);
    expect(standIn.windows).toHaveLength(0);
    expect(standIn.trays).toHaveLength(0);
    expect(standIn.state.notifications).toHaveLength(0);
  });

  it('runs the real pm-mcp program by default', async () => {
    const written: string[] = [];
    const write = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    try {
      expect(await runAppCli(['--version'])).toBe(0);
    } finally {
      write.mockRestore();
    }
    expect(written.join('')).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(standIn.state.exitCode).toBe(0);
  });
});
