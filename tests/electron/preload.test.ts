import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppState, PreloadApi } from '../../preload/contract.js';
import { makeState } from './core-stand-in.js';

type Listener = (event: unknown, ...args: unknown[]) => void;

const electron = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  invocations: [] as { channel: string; args: unknown[] }[],
  reply: (_channel: string, _args: unknown[]): Promise<unknown> => Promise.resolve(undefined),
  listeners: new Map<string, Set<Listener>>(),
}));

vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, api: unknown) => electron.exposed.set(key, api),
  },
  ipcRenderer: {
    invoke: (channel: string, ...args: unknown[]) => {
      electron.invocations.push({ channel, args });
      return electron.reply(channel, args);
    },
    on: (channel: string, listener: Listener) => {
      const set = electron.listeners.get(channel) ?? new Set<Listener>();
      set.add(listener);
      electron.listeners.set(channel, set);
    },
    removeListener: (channel: string, listener: Listener) => {
      electron.listeners.get(channel)?.delete(listener);
    },
  },
}));

let api: PreloadApi;

beforeAll(async () => {
  await import('../../preload/index.js');
  api = electron.exposed.get('pmMcp') as PreloadApi;
});

beforeEach(() => {
  electron.invocations.length = 0;
});

describe('preload', () => {
  it('exposes only window.pmMcp, with exactly the contract’s methods', () => {
    expect([...electron.exposed.keys()]).toEqual(['pmMcp']);
    expect(Object.keys(api).sort()).toEqual(
      [
        'addProvider',
        'cancelBrowserSignIn',
        'configureClient',
        'getSettings',
        'getState',
        'keepAutoConfigure',
        'listGrants',
        'listKeys',
        'listProviders',
        'onStateChanged',
        'removeProvider',
        'replaceRejectedKey',
        'revokeGrant',
        'revokeKey',
        'rotateKey',
        'setGrantLimits',
        'setKeyLimits',
        'signIn',
        'signInWithBrowser',
        'signOut',
        'testProvider',
        'unconfigureClient',
        'undoAutoConfigure',
        'updateSettings',
      ].sort(),
    );
    for (const value of Object.values(api)) expect(typeof value).toBe('function');
  });

  it('invokes pm-mcp:<method> with the arguments and resolves with the value', async () => {
    electron.reply = () =>
      Promise.resolve({ ok: true, value: { client: 'cursor', state: 'current' } });
    await expect(api.configureClient('cursor')).resolves.toEqual({
      client: 'cursor',
      state: 'current',
    });
    expect(electron.invocations).toEqual([{ channel: 'pm-mcp:configureClient', args: ['cursor'] }]);
  });

  it('rejects with the DesktopApiError shape {code, message} that main sent', async () => {
    electron.reply = () =>
      Promise.resolve({
        ok: false,
        error: { code: 'key_rejected', message: 'The key was revoked' },
      });
    const error: unknown = await api.getState().catch((caught: unknown) => caught);
    expect(error).toEqual({ code: 'key_rejected', message: 'The key was revoked' });
  });

  it('turns a broken or failed invoke into ipc_failed', async () => {
    electron.reply = () => Promise.resolve({ something: 'else' });
    await expect(api.listKeys()).rejects.toMatchObject({ code: 'ipc_failed' });
    electron.reply = () => Promise.reject(new Error("No handler registered for 'pm-mcp:listKeys'"));
    await expect(api.listKeys()).rejects.toMatchObject({ code: 'ipc_failed' });
  });

  it('delivers stateChanged events until unsubscribed', () => {
    const seen: AppState[] = [];
    const unsubscribe = api.onStateChanged((state) => seen.push(state));
    const emit = (state: AppState) => {
      for (const listener of electron.listeners.get('pm-mcp:stateChanged') ?? [])
        listener({}, state);
    };
    emit(makeState({ summary: 'one' }));
    unsubscribe();
    emit(makeState({ summary: 'two' }));
    expect(seen.map((state) => state.summary)).toEqual(['one']);
  });
});
