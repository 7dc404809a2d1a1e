/**
 * The preload script: the only code that touches raw `ipcRenderer`. It exposes exactly the
 * `PreloadApi` of the contract on `window.pmMcp`, nothing else (never `ipcRenderer` itself). Each
 * method is one `invoke` on `pm-mcp:<method>`; main answers `{ok: true, value}` or
 * `{ok: false, error: {code, message}}`, and a failure is rethrown as that `DesktopApiError`
 * shape (Electron would otherwise keep only a mangled message of a thrown error).
 *
 * Runs sandboxed, so it is bundled into one CommonJS file (see vite.config.ts).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  ipcChannel,
  type AppState,
  type DesktopApi,
  type DesktopApiError,
  type DesktopMethod,
  type PreloadApi,
} from './contract.js';

type IpcReply = { ok: true; value: unknown } | { ok: false; error: DesktopApiError };

function isIpcReply(value: unknown): value is IpcReply {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record.ok === true) return 'value' in record;
  if (record.ok !== false || typeof record.error !== 'object' || record.error === null)
    return false;
  const error = record.error as Record<string, unknown>;
  return typeof error.code === 'string' && typeof error.message === 'string';
}

async function invoke(method: DesktopMethod, args: unknown[]): Promise<unknown> {
  let reply: unknown;
  try {
    reply = await ipcRenderer.invoke(ipcChannel(method), ...args);
  } catch {
    reply = undefined;
  }
  if (!isIpcReply(reply)) {
    const error: DesktopApiError = {
      code: 'ipc_failed',
      message: 'The app did not answer. Restart PM MCP and try again.',
    };
    // The contract's error shape crosses contextBridge as a plain object (custom properties on
    // an Error would be dropped).
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw error;
  }
  if (!reply.ok) {
    const error: DesktopApiError = { code: reply.error.code, message: reply.error.message };
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw error;
  }
  return reply.value;
}

/** One typed method per contract member; main validates the values again. */
function method<M extends DesktopMethod>(name: M): DesktopApi[M] {
  const call = (...args: unknown[]): Promise<unknown> => invoke(name, args);
  return call as DesktopApi[M];
}

const api: PreloadApi = {
  getState: method('getState'),
  signIn: method('signIn'),
  signInWithBrowser: method('signInWithBrowser'),
  cancelBrowserSignIn: method('cancelBrowserSignIn'),
  signOut: method('signOut'),
  listKeys: method('listKeys'),
  revokeKey: method('revokeKey'),
  setKeyLimits: method('setKeyLimits'),
  listGrants: method('listGrants'),
  revokeGrant: method('revokeGrant'),
  setGrantLimits: method('setGrantLimits'),
  rotateKey: method('rotateKey'),
  replaceRejectedKey: method('replaceRejectedKey'),
  configureClient: method('configureClient'),
  unconfigureClient: method('unconfigureClient'),
  undoAutoConfigure: method('undoAutoConfigure'),
  keepAutoConfigure: method('keepAutoConfigure'),
  listProviders: method('listProviders'),
  addProvider: method('addProvider'),
  testProvider: method('testProvider'),
  removeProvider: method('removeProvider'),
  getSettings: method('getSettings'),
  updateSettings: method('updateSettings'),
  onStateChanged(listener) {
    const channel = ipcChannel('stateChanged');
    const forward = (_event: IpcRendererEvent, state: AppState): void => listener(state);
    ipcRenderer.on(channel, forward);
    return () => {
      ipcRenderer.removeListener(channel, forward);
    };
  },
};

contextBridge.exposeInMainWorld('pmMcp', api);
