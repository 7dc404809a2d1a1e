/**
 * The tray app's composition root: the only place that wires Electron to the desktop core.
 * It holds no behaviour of its own: sign-in, keys, client files, the proxy and the state all
 * live in `main/core` (shared with the `pm-mcp` CLI). Here: one instance, one window, one tray,
 * the IPC handlers, start at login, and a clean stop on quit.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  Menu,
  nativeImage,
  Notification,
  session,
  shell,
  Tray,
} from 'electron';
import type { AppState, DesktopApi, Settings } from '../../preload/contract.js';
import { appCliArguments, packagedAppLauncher } from '../core/bridge-command.js';
import { createDesktopCore } from '../core/desktop-core.js';
import { isDesktopError } from '../errors.js';
import { createKeytarSecretStore } from '../keychain/keytar-store.js';
import { keychainService } from '../keychain/secret-store.js';
import { resolveConfigDir } from '../state/paths.js';
import { createSenderCheck, registerDesktopIpc, sendStateChanged } from './ipc.js';
import { forkKeytarUtilityProcess } from './keytar-helper-process.js';
import { applyStartAtLogin, hiddenFlag } from './login-item.js';
import { createAppTray, type TrayLevel } from './tray.js';
import {
  createWindowManager,
  defaultExternalOrigins,
  denyAllPermissions,
  hardenWebContents,
  type AppPage,
} from './window.js';

/** What the shell needs from the core (`DesktopCore` satisfies it). */
export interface ShellCore extends DesktopApi {
  start(): Promise<AppState>;
  stop(): Promise<void>;
  onStateChanged(listener: (state: AppState) => void): () => void;
}

export interface ShellEnvironment {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  homeDir: string;
}

export interface ShellOptions {
  /** The folder holding `dist/` and `renderer/dist/` (the app's root, or the asar). */
  appRoot?: string;
  environment?: ShellEnvironment;
  /** Builds the services; defaults to the real core with the OS keychain (keytar). */
  createCore?: (environment: ShellEnvironment) => ShellCore;
  log?: (line: string) => void;
}

export interface RunningShell {
  core: ShellCore;
  openWindow(): void;
  quit(): void;
}

function defaultAppRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const twoUp = path.resolve(here, '../..');
  // Compiled: <root>/dist/main/electron/shell.js; from source: <root>/main/electron/shell.ts.
  return path.basename(twoUp) === 'dist' ? path.dirname(twoUp) : twoUp;
}

function createRealCore(environment: ShellEnvironment): ShellCore {
  const clientEnvironment = {
    homeDir: environment.homeDir,
    platform: environment.platform,
    env: environment.env,
  };
  return createDesktopCore({
    configDir: resolveConfigDir(clientEnvironment),
    // Same as the CLI: PM_MCP_KEYCHAIN_SERVICE keeps test runs apart; users leave it unset.
    secretStore: createKeytarSecretStore({
      platform: environment.platform,
      service: environment.env.PM_MCP_KEYCHAIN_SERVICE ?? keychainService,
      // Linux: keychain calls move to a helper once the Secret Service has restarted.
      spawnHelper: environment.platform === 'linux' ? forkKeytarUtilityProcess : null,
    }),
    clientEnvironment,
    // Browser sign-in (RFC 8252) opens the person's own browser, never a window of the app.
    openUrl: (url) => shell.openExternal(url),
    // Packaged, there is no Node or source checkout to run the bridge with: the app runs it.
    ...(app.isPackaged
      ? { bridgeLauncher: packagedAppLauncher(environment.env.APPIMAGE ?? process.execPath) }
      : {}),
  });
}

/** The window's services: the core, plus applying "start at login" to the OS when it changes. */
function withLoginItem(
  core: ShellCore,
  applyLoginItem: (enabled: boolean) => Promise<void>,
): DesktopApi {
  return {
    getState: () => core.getState(),
    signIn: (input) => core.signIn(input),
    signInWithBrowser: (input) => core.signInWithBrowser(input),
    cancelBrowserSignIn: () => core.cancelBrowserSignIn(),
    signOut: () => core.signOut(),
    listKeys: () => core.listKeys(),
    revokeKey: (id) => core.revokeKey(id),
    setKeyLimits: (id, limits) => core.setKeyLimits(id, limits),
    listGrants: () => core.listGrants(),
    revokeGrant: (id) => core.revokeGrant(id),
    setGrantLimits: (id, limits) => core.setGrantLimits(id, limits),
    rotateKey: () => core.rotateKey(),
    replaceRejectedKey: () => core.replaceRejectedKey(),
    configureClient: (client) => core.configureClient(client),
    unconfigureClient: (client) => core.unconfigureClient(client),
    undoAutoConfigure: () => core.undoAutoConfigure(),
    keepAutoConfigure: () => core.keepAutoConfigure(),
    listProviders: () => core.listProviders(),
    addProvider: (input) => core.addProvider(input),
    testProvider: (id) => core.testProvider(id),
    removeProvider: (id) => core.removeProvider(id),
    getSettings: () => core.getSettings(),
    async updateSettings(patch: Partial<Settings>): Promise<Settings> {
      const settings = await core.updateSettings(patch);
      if (patch.startAtLogin !== undefined) await applyLoginItem(settings.startAtLogin);
      return settings;
    },
  };
}

export async function startShell(options: ShellOptions = {}): Promise<RunningShell | undefined> {
  const environment: ShellEnvironment = options.environment ?? {
    argv: process.argv,
    env: process.env,
    platform: process.platform,
    homeDir: os.homedir(),
  };
  const log = options.log ?? ((line: string) => console.error(`[pm-mcp] ${line}`));

  // A second launch (e.g. from the menu while running in the tray) just opens the window.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return undefined;
  }

  const appRoot = options.appRoot ?? defaultAppRoot();
  const resourcesDir = app.isPackaged
    ? path.join(process.resourcesPath, 'icons')
    : path.join(appRoot, 'build');
  const devRendererUrl = app.isPackaged ? undefined : environment.env.PM_MCP_RENDERER_URL;
  const page: AppPage = devRendererUrl
    ? { kind: 'dev-server', url: devRendererUrl }
    : { kind: 'file', path: path.join(appRoot, 'renderer', 'dist', 'index.html') };
  const links = {
    allowedOrigins: defaultExternalOrigins,
    openExternal: (url: string) => shell.openExternal(url),
  };

  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, links));
  // The tray keeps the app alive with no window open.
  app.on('window-all-closed', () => undefined);

  const windows = createWindowManager({
    createWindow: (windowOptions) => new BrowserWindow(windowOptions),
    page,
    preloadPath: path.join(appRoot, 'dist', 'preload', 'index.cjs'),
    iconPath: path.join(resourcesDir, 'icon.png'),
  });
  app.on('second-instance', () => windows.open());

  await app.whenReady();
  if (environment.platform === 'win32') app.setAppUserModelId('dev.pm-mcp.desktop');
  // macOS keeps its standard menu (Edit → Copy/Paste shortcuts); elsewhere the window needs none.
  if (environment.platform !== 'darwin') Menu.setApplicationMenu(null);
  denyAllPermissions(session.defaultSession);

  const core = (options.createCore ?? createRealCore)(environment);
  const applyLoginItem = (enabled: boolean) =>
    applyStartAtLogin(enabled, {
      platform: environment.platform,
      setLoginItemSettings: (settings) => app.setLoginItemSettings(settings),
      executablePath: environment.env.APPIMAGE ?? process.execPath,
      homeDir: environment.homeDir,
      env: environment.env,
    });

  const unregisterIpc = registerDesktopIpc({
    services: withLoginItem(core, applyLoginItem),
    isTrustedSender: createSenderCheck(page),
    onForeignSender: (method, frameUrl) =>
      log(`refused ${method} from a page that is not the app's (${frameUrl ?? 'no frame'})`),
    onUnexpectedError: (method, error) =>
      log(`${method} failed unexpectedly: ${error instanceof Error ? error.name : 'error'}`),
  });

  const notify = (body: string): void => {
    if (Notification.isSupported()) new Notification({ title: 'PM MCP', body }).show();
  };

  const iconFor = (level: TrayLevel) =>
    nativeImage.createFromPath(path.join(resourcesDir, 'tray', `${level}.png`));
  const tray = createAppTray(
    {
      createTray: (image) => new Tray(image),
      buildMenu: (template) => Menu.buildFromTemplate(template),
      iconFor,
    },
    {
      configureCursor: () => {
        core.configureClient('cursor').then(
          () => notify('Cursor is set up. Reload its MCP servers (or restart it) to connect.'),
          (error: unknown) => {
            notify(isDesktopError(error) ? error.message : 'Cursor could not be configured.');
            windows.open();
          },
        );
      },
      openWindow: () => windows.open(),
      quit: () => app.quit(),
    },
  );

  const unsubscribe = core.onStateChanged((state) => {
    tray.update(state);
    const window = windows.current();
    if (window) sendStateChanged(window.webContents, state);
  });

  let stopped = false;
  let stopping = false;
  app.on('before-quit', (event) => {
    if (stopped) return;
    event.preventDefault();
    if (stopping) return;
    stopping = true;
    unsubscribe();
    unregisterIpc();
    core
      .stop()
      .catch((error: unknown) =>
        log(`stopping failed: ${error instanceof Error ? error.name : 'error'}`),
      )
      .finally(() => {
        stopped = true;
        tray.destroy();
        app.quit();
      });
  });

  try {
    const state = await core.start();
    tray.update(state);
    const settings = await core.getSettings();
    await applyLoginItem(settings.startAtLogin).catch(() => undefined);
    // `npm start` points a fresh install at the server it started.
    const suggestedServer = environment.env.PM_MCP_SERVER_URL;
    if (!state.user && suggestedServer && !settings.serverUrl) {
      await core.updateSettings({ serverUrl: suggestedServer });
    }
  } catch (error) {
    log(`starting failed: ${isDesktopError(error) ? error.message : 'unexpected error'}`);
  }

  if (!environment.argv.includes(hiddenFlag)) windows.open();

  return {
    core,
    openWindow: () => {
      windows.open();
    },
    quit: () => app.quit(),
  };
}

/**
 * `<app> --pm-mcp-cli <command…>`: the `pm-mcp` command inside the packaged app (Claude Desktop
 * runs `bridge` this way). No window, no tray and no single-instance lock: it runs beside the
 * tray app, and exits with the command's code.
 */
export async function runAppCli(
  args: readonly string[],
  run: (args: readonly string[]) => Promise<number> = async (cliArgs) =>
    (await import('../cli/index.js')).main(cliArgs),
): Promise<number> {
  app.dock?.hide();
  const code = await run(args);
  app.exit(code);
  return code;
}

// Electron runs this file as the app's main script; under Node (tests) it only exports.
if ('electron' in process.versions) {
  const cliArguments = appCliArguments(process.argv);
  const running = cliArguments ? runAppCli(cliArguments) : startShell();
  running.catch((error: unknown) => {
    console.error('[pm-mcp] could not start:', error instanceof Error ? error.message : error);
    app.exit(1);
  });
}
