/**
 * Every window the app opens, and the rules every web page in it lives under (the Electron
 * security checklist, `reference/security.md`): sandboxed, context-isolated renderer with no
 * Node; no navigation away from the app's page; no new windows; no permission ever granted;
 * external links only to a short allow-list of https origins, opened in the user's browser.
 *
 * Functions take the Electron objects they work on (typed by the narrow interfaces below, which
 * the real `BrowserWindow`, `WebContents` and `Session` satisfy), so tests pass stand-ins.
 */
import { pathToFileURL } from 'node:url';
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';

/** Where the window's page comes from: the built renderer, or Vite's dev server in development. */
export type AppPage = { kind: 'file'; path: string } | { kind: 'dev-server'; url: string };

export function appPageUrl(page: AppPage): string {
  return page.kind === 'file' ? pathToFileURL(page.path).href : new URL(page.url).href;
}

/** True only for the app's own page: the exact file, or the dev server's origin. */
export function isAppPageUrl(frameUrl: string, page: AppPage): boolean {
  let url: URL;
  try {
    url = new URL(frameUrl);
  } catch {
    return false;
  }
  const own = new URL(appPageUrl(page));
  if (page.kind === 'file') {
    return url.protocol === 'file:' && url.host === own.host && url.pathname === own.pathname;
  }
  return url.origin === own.origin;
}

/** Pages the app may open in the user's browser (help for creating provider tokens). */
export const defaultExternalOrigins: readonly string[] = [
  'https://id.atlassian.com',
  'https://support.atlassian.com',
  'https://confluence.atlassian.com',
  'https://www.openproject.org',
];

export function isAllowedExternalUrl(target: string, allowedOrigins: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' &&
    url.username === '' &&
    url.password === '' &&
    allowedOrigins.includes(url.origin)
  );
}

/** The one set of `webPreferences` every window gets. */
export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
  };
}

interface PreventableEvent {
  preventDefault(): void;
}

/** The part of `WebContents` the hardening uses. */
export interface HardenableContents {
  on(event: 'will-navigate', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

export interface ExternalLinks {
  allowedOrigins: readonly string[];
  /** `shell.openExternal`. */
  openExternal(url: string): Promise<void>;
}

/**
 * Applied to every web contents the app creates (`app.on('web-contents-created')`): navigation
 * is prevented (an allow-listed https link opens in the browser instead), new windows are denied
 * (same exception), and `<webview>` is refused.
 */
export function hardenWebContents(contents: HardenableContents, links: ExternalLinks): void {
  const openIfAllowed = (url: string): void => {
    if (isAllowedExternalUrl(url, links.allowedOrigins)) {
      links.openExternal(url).catch(() => undefined);
    }
  };
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    openIfAllowed(url);
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
  });
  contents.setWindowOpenHandler(({ url }) => {
    openIfAllowed(url);
    return { action: 'deny' };
  });
}

/** The part of `Session` the hardening uses. */
export interface HardenableSession {
  setPermissionRequestHandler(
    handler: (contents: unknown, permission: string, callback: (granted: boolean) => void) => void,
  ): void;
  setPermissionCheckHandler(handler: (contents: unknown, permission: string) => boolean): void;
}

/** No web permission (camera, notifications, geolocation, clipboard read…) is ever granted. */
export function denyAllPermissions(session: HardenableSession): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** The part of `BrowserWindow` the app uses. */
export interface AppWindow {
  readonly webContents: { send(channel: string, ...args: unknown[]): void };
  loadFile(filePath: string): Promise<void>;
  loadURL(url: string): Promise<void>;
  show(): void;
  focus(): void;
  restore(): void;
  isMinimized(): boolean;
  isDestroyed(): boolean;
  once(event: 'ready-to-show', listener: () => void): unknown;
  on(event: 'closed', listener: () => void): unknown;
}

export interface WindowFactory<W extends AppWindow> {
  /** `new BrowserWindow(options)`. */
  createWindow(options: BrowserWindowConstructorOptions): W;
  page: AppPage;
  preloadPath: string;
  iconPath?: string;
}

/** The options of every window: the secure preferences, a calm size, shown when painted. */
export function appWindowOptions(
  preloadPath: string,
  iconPath?: string,
): BrowserWindowConstructorOptions {
  return {
    width: 980,
    height: 760,
    minWidth: 640,
    minHeight: 520,
    show: false,
    title: 'PM MCP',
    autoHideMenuBar: true,
    ...(iconPath ? { icon: iconPath } : {}),
    webPreferences: secureWebPreferences(preloadPath),
  };
}

/**
 * Keeps the app to one window: `open()` shows and focuses the existing one or creates it;
 * closing it destroys it (the tray keeps the app running).
 */
export function createWindowManager<W extends AppWindow>(factory: WindowFactory<W>) {
  let current: W | undefined;

  const open = (): W => {
    if (current && !current.isDestroyed()) {
      if (current.isMinimized()) current.restore();
      current.show();
      current.focus();
      return current;
    }
    const window = factory.createWindow(appWindowOptions(factory.preloadPath, factory.iconPath));
    current = window;
    window.once('ready-to-show', () => window.show());
    window.on('closed', () => {
      if (current === window) current = undefined;
    });
    const loading =
      factory.page.kind === 'file'
        ? window.loadFile(factory.page.path)
        : window.loadURL(factory.page.url);
    loading.catch(() => undefined);
    return window;
  };

  return {
    open,
    /** The open window, if any. */
    current: (): W | undefined => (current && !current.isDestroyed() ? current : undefined),
  };
}

export type WindowManager<W extends AppWindow> = ReturnType<typeof createWindowManager<W>>;
