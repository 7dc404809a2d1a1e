/**
 * The main-process end of the typed IPC contract (GitHub Desktop's pattern): the ONLY file that
 * touches raw `ipcMain`. One `handle` per `DesktopApi` method on `pm-mcp:<method>`. Every call is
 * refused unless it comes from the top frame of the app's own page, then its arguments are
 * validated (`ipc-dispatch.ts`) before the services see them. Replies are
 * `{ok: true, value}` or `{ok: false, error: {code, message}}`; preload turns the latter back
 * into a rejected `DesktopApiError`.
 */
import { ipcMain } from 'electron';
import {
  ipcChannel,
  type AppState,
  type DesktopApi,
  type DesktopMethod,
} from '../../preload/contract.js';
import {
  desktopMethods,
  dispatchDesktopCall,
  ipcErrorCodes,
  type DispatchOptions,
  type IpcReply,
} from './ipc-dispatch.js';
import { isAppPageUrl, type AppPage } from './window.js';

/** What a handler needs to know about the caller (`IpcMainInvokeEvent` satisfies it). */
export interface IpcInvokeEvent {
  readonly senderFrame: { readonly url: string; readonly parent: unknown } | null;
}

/** The part of `ipcMain` used here. */
export interface IpcMainLike {
  handle(
    channel: string,
    listener: (event: IpcInvokeEvent, ...args: unknown[]) => Promise<IpcReply>,
  ): void;
  removeHandler(channel: string): void;
}

/** Only the app's own page, in the window's top frame (never an iframe), may call. */
export function createSenderCheck(page: AppPage): (event: IpcInvokeEvent) => boolean {
  return (event) => {
    const frame = event.senderFrame;
    return frame !== null && frame.parent === null && isAppPageUrl(frame.url, page);
  };
}

export interface RegisterIpcOptions extends DispatchOptions {
  services: DesktopApi;
  isTrustedSender: (event: IpcInvokeEvent) => boolean;
  /** Told when a call is refused for its sender (the URL only; never the arguments). */
  onForeignSender?: (method: DesktopMethod, frameUrl: string | null) => void;
  /** Defaults to Electron's `ipcMain`; tests pass a stand-in. */
  ipc?: IpcMainLike;
}

/** Registers every handler; returns a function that removes them again. */
export function registerDesktopIpc(options: RegisterIpcOptions): () => void {
  const ipc = options.ipc ?? ipcMain;
  for (const method of desktopMethods) {
    ipc.handle(ipcChannel(method), async (event, ...args): Promise<IpcReply> => {
      if (!options.isTrustedSender(event)) {
        options.onForeignSender?.(method, event.senderFrame?.url ?? null);
        return {
          ok: false,
          error: {
            code: ipcErrorCodes.forbiddenSender,
            message: 'This page is not allowed to talk to PM MCP',
          },
        };
      }
      return dispatchDesktopCall(options.services, method, args, options);
    });
  }
  return () => {
    for (const method of desktopMethods) ipc.removeHandler(ipcChannel(method));
  };
}

/** The `stateChanged` event, pushed to the window (the only event of the contract). */
export function sendStateChanged(
  contents: { send(channel: string, ...args: unknown[]): void },
  state: AppState,
): void {
  contents.send(ipcChannel('stateChanged'), state);
}
