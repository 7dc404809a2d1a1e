import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KeytarApi } from './keytar-store.js';

/**
 * keytar in a process of its own, started again whenever it may hold a dead connection.
 *
 * Why: on Linux keytar goes through libsecret, which caches one `SecretService` per process (its
 * D-Bus proxy bound to the daemon's unique bus name, and the encryption session opened with it)
 * and never lets go of it: nothing in Node iterates GLib's main loop, so the name-owner change
 * that would reset it is never seen, and keytar exposes no `secret_service_disconnect()`. Once the
 * Secret Service restarts (gnome-keyring upgraded, crashed, the session restarted), every call
 * in that process fails for good — reads with "The name :1.x was not provided by any .service
 * files", writes with "The session wrapping the secret does not exist". Worker threads share the
 * cache (it is per process), so only a fresh process gets a fresh connection. This file is the
 * parent's side; `keytar-helper.ts` is what runs in the child.
 */

export interface KeytarHelperRequest {
  id: number;
  op: 'get' | 'set' | 'delete';
  service: string;
  account: string;
  password?: string;
}

export type KeytarHelperReply =
  | { id: number; ok: true; value: string | boolean | null }
  | { id: number; ok: false; message: string };

/** One running helper, whatever started it (`child_process.fork`, Electron's `utilityProcess`). */
export interface KeytarHelperProcess {
  post(request: KeytarHelperRequest): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once, when the process has ended (for any reason). */
  onExit(listener: () => void): void;
  /** `false` lets this process exit while the helper idles (the CLI must not wait for it). */
  setRef(ref: boolean): void;
  kill(): void;
}

export type SpawnKeytarHelper = () => KeytarHelperProcess;

/** keytar's calls, answered by a helper process; `restart` drops it (the next call starts one). */
export interface HelperKeytar extends KeytarApi {
  restart(): void;
  /** Whether the running helper has answered a call without error (it holds a connection). */
  hasAnswered(): boolean;
}

/** The helper's entry: the compiled `.js` beside this file, or the `.ts` when run from source. */
export function keytarHelperEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return here.replace(/keytar-process\.(ts|js)$/, 'keytar-helper.$1');
}

/**
 * Starts the helper with this Node (the CLI, tests). From source the entry is TypeScript, so the
 * child loads tsx's loader (by absolute path: the CLI may run in any folder).
 */
export function forkKeytarHelper(): KeytarHelperProcess {
  const entry = keytarHelperEntry();
  const loader = entry.endsWith('.ts')
    ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
    : [];
  const child = fork(entry, [], {
    execArgv: loader,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'json',
  });
  // A helper that cannot start (no Node, a broken install) fails the pending call, not the app.
  child.on('error', () => undefined);
  return {
    post: (request) => child.send(request),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.once('exit', () => listener()),
    setRef(ref) {
      if (ref) {
        child.ref();
        child.channel?.ref();
      } else {
        child.unref();
        child.channel?.unref();
      }
    },
    kill: () => child.kill(),
  };
}

function isReply(message: unknown): message is KeytarHelperReply {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { id?: unknown }).id === 'number' &&
    typeof (message as { ok?: unknown }).ok === 'boolean'
  );
}

interface RunningHelper {
  process: KeytarHelperProcess;
  pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
  idle: NodeJS.Timeout | undefined;
  answered: boolean;
}

/**
 * keytar's API over a helper process started on first use. Failures come back as `Error`s with
 * libsecret's own message (so they are explained like in-process ones). The helper ends after
 * `idleMs` without calls, and is never what keeps this process alive.
 */
export function createHelperKeytar(
  spawn: SpawnKeytarHelper,
  options: { idleMs?: number } = {},
): HelperKeytar {
  const idleMs = options.idleMs ?? 30_000;
  let current: RunningHelper | undefined;
  let nextId = 1;

  const stop = (helper: RunningHelper): void => {
    if (current === helper) current = undefined;
    clearTimeout(helper.idle);
    helper.process.kill();
  };

  const start = (): RunningHelper => {
    const helper: RunningHelper = {
      process: spawn(),
      pending: new Map(),
      idle: undefined,
      answered: false,
    };
    helper.process.onMessage((message) => {
      if (!isReply(message)) return;
      const waiting = helper.pending.get(message.id);
      if (!waiting) return;
      helper.pending.delete(message.id);
      if (message.ok) {
        helper.answered = true;
        waiting.resolve(message.value);
      } else waiting.reject(new Error(message.message));
    });
    helper.process.onExit(() => {
      if (current === helper) current = undefined;
      clearTimeout(helper.idle);
      for (const waiting of helper.pending.values())
        waiting.reject(new Error('the keychain helper process ended before it answered'));
      helper.pending.clear();
    });
    return helper;
  };

  const ask = (request: Omit<KeytarHelperRequest, 'id'>): Promise<unknown> => {
    current ??= start();
    const helper = current;
    const id = nextId++;
    clearTimeout(helper.idle);
    helper.process.setRef(true);
    return new Promise<unknown>((resolve, reject) => {
      helper.pending.set(id, { resolve, reject });
      helper.process.post({ id, ...request });
    }).finally(() => {
      if (helper.pending.size > 0) return;
      helper.process.setRef(false);
      helper.idle = setTimeout(() => stop(helper), idleMs);
      helper.idle.unref();
    });
  };

  return {
    getPassword: async (service, account) =>
      (await ask({ op: 'get', service, account })) as string | null,
    setPassword: async (service, account, password) => {
      await ask({ op: 'set', service, account, password });
    },
    deletePassword: async (service, account) =>
      (await ask({ op: 'delete', service, account })) as boolean,
    restart() {
      if (current) stop(current);
    },
    hasAnswered: () => current?.answered ?? false,
  };
}
