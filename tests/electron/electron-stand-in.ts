/**
 * A faithful stand-in for the parts of the `electron` module the shell uses, for
 * `vi.mock('electron', …)`. It behaves like Electron where the shell depends on it: `app` events
 * (`before-quit` can be prevented, `web-contents-created` fires for each window), one
 * `ipcMain.handle` per channel (a second registration throws, as in Electron), windows whose
 * web contents emit `will-navigate`, and it records what the shell did so tests can assert it.
 *
 * One instance per test file (the mocked module is a module): call `standIn.reset()` in
 * `beforeEach`.
 */
import { EventEmitter } from 'node:events';

export interface RecordedEvent {
  defaultPrevented: boolean;
  preventDefault(): void;
}

function preventableEvent(): RecordedEvent {
  const event = {
    defaultPrevented: false,
    preventDefault() {
      event.defaultPrevented = true;
    },
  };
  return event;
}

export interface InvokeEventStandIn {
  senderFrame: { url: string; parent: unknown } | null;
}

type Handler = (event: InvokeEventStandIn, ...args: unknown[]) => Promise<unknown>;

class WebContentsStandIn extends EventEmitter {
  windowOpenHandler: ((details: { url: string }) => { action: string }) | undefined;
  readonly sent: { channel: string; args: unknown[] }[] = [];

  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = handler;
  }

  send(channel: string, ...args: unknown[]): void {
    this.sent.push({ channel, args });
  }

  /** What Chromium does when the page tries to navigate: returns whether it was prevented. */
  attemptNavigation(url: string): boolean {
    const event = preventableEvent();
    this.emit('will-navigate', event, url);
    return event.defaultPrevented;
  }

  attemptAttachWebview(): boolean {
    const event = preventableEvent();
    this.emit('will-attach-webview', event, {}, {});
    return event.defaultPrevented;
  }

  /** What `window.open` / a target=_blank link asks of the handler. */
  attemptOpenWindow(url: string): string {
    if (!this.windowOpenHandler) return 'allow';
    return this.windowOpenHandler({ url }).action;
  }
}

function createStandIn() {
  const appEvents = new EventEmitter();
  const state = {
    singleInstanceLock: true,
    isPackaged: false,
    quitRequests: 0,
    quit: false,
    exitCode: undefined as number | undefined,
    loginItemSettings: [] as { openAtLogin: boolean; args?: string[] }[],
    applicationMenu: 'default' as unknown,
    openedExternally: [] as string[],
    notifications: [] as { title: string; body: string }[],
    permissionRequestHandler: undefined as
      | ((contents: unknown, permission: string, callback: (granted: boolean) => void) => void)
      | undefined,
    permissionCheckHandler: undefined as
      ((contents: unknown, permission: string) => boolean) | undefined,
  };
  const handlers = new Map<string, Handler>();
  const windows: BrowserWindowStandIn[] = [];
  const trays: TrayStandIn[] = [];

  class BrowserWindowStandIn extends EventEmitter {
    readonly options: Record<string, unknown>;
    readonly webContents = new WebContentsStandIn();
    loaded: { file?: string; url?: string } = {};
    visible = false;
    focused = 0;
    destroyed = false;
    minimized = false;

    constructor(options: Record<string, unknown>) {
      super();
      this.options = options;
      windows.push(this);
      appEvents.emit('web-contents-created', preventableEvent(), this.webContents);
    }

    loadFile(file: string): Promise<void> {
      this.loaded = { file };
      queueMicrotask(() => this.emit('ready-to-show'));
      return Promise.resolve();
    }

    loadURL(url: string): Promise<void> {
      this.loaded = { url };
      queueMicrotask(() => this.emit('ready-to-show'));
      return Promise.resolve();
    }

    show(): void {
      this.visible = true;
    }

    focus(): void {
      this.focused += 1;
    }

    restore(): void {
      this.minimized = false;
    }

    isMinimized(): boolean {
      return this.minimized;
    }

    isDestroyed(): boolean {
      return this.destroyed;
    }

    /** The user closes the window. */
    close(): void {
      this.destroyed = true;
      this.emit('closed');
      if (windows.every((window) => window.destroyed)) appEvents.emit('window-all-closed');
    }
  }

  class TrayStandIn extends EventEmitter {
    image: unknown;
    toolTip = '';
    menu: { template: MenuItemStandIn[] } | null = null;
    destroyed = false;

    constructor(image: unknown) {
      super();
      this.image = image;
      trays.push(this);
    }

    setImage(image: unknown): void {
      this.image = image;
    }

    setToolTip(toolTip: string): void {
      this.toolTip = toolTip;
    }

    setContextMenu(menu: { template: MenuItemStandIn[] } | null): void {
      this.menu = menu;
    }

    destroy(): void {
      this.destroyed = true;
    }

    /** Clicks the menu item with this id, as the user would. */
    clickMenuItem(id: string): void {
      const item = this.menu?.template.find((entry) => entry.id === id);
      if (!item) throw new Error(`no tray menu item ${id}`);
      if (item.enabled === false) throw new Error(`tray menu item ${id} is disabled`);
      item.click?.();
    }
  }

  interface MenuItemStandIn {
    id?: string;
    label?: string;
    type?: string;
    enabled?: boolean;
    click?: () => void;
  }

  const app = {
    get isPackaged() {
      return state.isPackaged;
    },
    requestSingleInstanceLock: () => state.singleInstanceLock,
    on(event: string, listener: (...args: never[]) => void) {
      appEvents.on(event, listener as (...args: unknown[]) => void);
      return app;
    },
    whenReady: () => Promise.resolve(),
    setAppUserModelId: (_id: string) => undefined,
    setLoginItemSettings(settings: { openAtLogin: boolean; args?: string[] }) {
      state.loginItemSettings.push(settings);
    },
    quit() {
      state.quitRequests += 1;
      const event = preventableEvent();
      appEvents.emit('before-quit', event);
      if (!event.defaultPrevented) state.quit = true;
    },
    exit(code: number) {
      state.exitCode = code;
    },
  };

  const ipcMain = {
    handle(channel: string, listener: Handler) {
      if (handlers.has(channel)) {
        throw new Error(`Attempted to register a second handler for '${channel}'`);
      }
      handlers.set(channel, listener);
    },
    removeHandler(channel: string) {
      handlers.delete(channel);
    },
  };

  class NotificationStandIn {
    private readonly options: { title: string; body: string };
    static isSupported(): boolean {
      return true;
    }
    constructor(options: { title: string; body: string }) {
      this.options = options;
    }
    show(): void {
      state.notifications.push(this.options);
    }
  }

  const module = {
    app,
    ipcMain,
    BrowserWindow: BrowserWindowStandIn,
    Tray: TrayStandIn,
    Notification: NotificationStandIn,
    Menu: {
      buildFromTemplate: (template: MenuItemStandIn[]) => ({ template }),
      setApplicationMenu: (menu: unknown) => {
        state.applicationMenu = menu;
      },
    },
    nativeImage: {
      createFromPath: (file: string) => ({ path: file }),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler(handler: typeof state.permissionRequestHandler) {
          state.permissionRequestHandler = handler;
        },
        setPermissionCheckHandler(handler: typeof state.permissionCheckHandler) {
          state.permissionCheckHandler = handler;
        },
      },
    },
    shell: {
      openExternal(url: string) {
        state.openedExternally.push(url);
        return Promise.resolve();
      },
    },
  };

  return {
    module,
    state,
    windows,
    trays,
    handlers,
    appEvents,
    /** Calls a registered handler as a renderer frame at `frameUrl` would. */
    invoke(
      channel: string,
      frame: { url: string; parent?: unknown } | null,
      ...args: unknown[]
    ): Promise<unknown> {
      const handler = handlers.get(channel);
      if (!handler) throw new Error(`no handler for ${channel}`);
      const senderFrame = frame ? { url: frame.url, parent: frame.parent ?? null } : null;
      return handler({ senderFrame }, ...args);
    },
    reset() {
      appEvents.removeAllListeners();
      handlers.clear();
      windows.length = 0;
      trays.length = 0;
      Object.assign(state, {
        singleInstanceLock: true,
        isPackaged: false,
        quitRequests: 0,
        quit: false,
        exitCode: undefined,
        loginItemSettings: [],
        applicationMenu: 'default',
        openedExternally: [],
        notifications: [],
        permissionRequestHandler: undefined,
        permissionCheckHandler: undefined,
      });
    },
  };
}

export const standIn = createStandIn();
export type ElectronStandIn = typeof standIn;
