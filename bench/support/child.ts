import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

/**
 * Every process a benchmark measures or loads from is a forked child (its own event loop, its own
 * CPU counters), driven by typed commands over IPC. A child module calls `serveCommands` once it
 * is ready; the parent holds a `Child` and must `stop()` it (in a `finally`).
 */

/** A child's commands: name → handler of one JSON-serialisable argument. */
export type CommandApi = Record<string, (args: never) => unknown>;

type ArgsOf<F> = F extends (args: infer A) => unknown ? A : never;

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

interface Message {
  type: 'ready' | 'failed' | 'reply';
  value?: unknown;
  error?: string;
  reply?: Reply;
}

export interface Child<Api extends CommandApi, Ready> {
  readonly pid: number;
  readonly ready: Ready;
  call<K extends keyof Api & string>(
    command: K,
    args: ArgsOf<Api[K]>,
  ): Promise<Awaited<ReturnType<Api[K]>>>;
  /** Runs the child's own cleanup, waits for it to exit (killed after 15 s). */
  stop(): Promise<void>;
}

export interface ChildOptions {
  /** Extra Node flags (e.g. `--expose-gc`, `--cpu-prof`); tsx's loader flags are kept. */
  nodeFlags?: readonly string[];
  env?: Record<string, string>;
}

/** Forks `modulePath` and waits until it reports ready (60 s at most). */
export async function startChild<Api extends CommandApi, Ready = undefined>(
  modulePath: string,
  options: ChildOptions = {},
): Promise<Child<Api, Ready>> {
  const child = fork(modulePath, [], {
    execArgv: [...process.execArgv, ...(options.nodeFlags ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${modulePath}`);
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let exited = false;

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${modulePath} did not start within 60 s`));
    }, 60_000);
    child.on('message', (message: Message) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.value as Ready);
      } else if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${modulePath} failed to start: ${message.error ?? ''}`));
      } else if (message.reply) {
        const waiter = pending.get(message.reply.id);
        pending.delete(message.reply.id);
        if (message.reply.ok) waiter?.resolve(message.reply.value);
        else waiter?.reject(new Error(message.reply.error ?? 'command failed'));
      }
    });
    child.once('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`${modulePath} exited with ${code ?? 'a signal'} before it was ready`));
      for (const waiter of pending.values())
        waiter.reject(new Error(`${modulePath} exited with ${code ?? 'a signal'}`));
      pending.clear();
    });
  });

  const call = (command: string, args: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (exited) {
        reject(new Error(`${modulePath} is not running`));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, command, args });
    });

  return {
    pid,
    ready,
    call: call as Child<Api, Ready>['call'],
    async stop() {
      if (exited) return;
      const exit = once(child, 'exit');
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        await call('stop', undefined).catch(() => undefined);
        await exit;
      } finally {
        clearTimeout(kill);
      }
    },
  };
}

/**
 * With `BENCH_CPU_PROFILE` set (run.ts `--profile`), samples this process with V8's CPU profiler
 * (what `node --cpu-prof` uses) from now until the returned function writes the profile there:
 * the measured work only, without start-up and module loading.
 */
async function startCpuProfile(): Promise<() => Promise<void>> {
  const file = process.env.BENCH_CPU_PROFILE;
  if (file === undefined) return () => Promise.resolve();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
  };
}

/**
 * The child side: reports ready with `ready`, answers commands, and on `stop` (or when the parent
 * goes away) runs `cleanup` and exits.
 */
export async function serveCommands(
  handlers: CommandApi,
  options: { ready?: unknown; cleanup?: () => Promise<void> } = {},
): Promise<void> {
  const send = (message: Message, then?: () => void): void => {
    process.send?.(message, undefined, {}, () => then?.());
  };
  const stopCpuProfile = await startCpuProfile();
  let stopping = false;
  const stop = async (id?: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await stopCpuProfile();
      await options.cleanup?.();
    } finally {
      if (id !== undefined && process.connected) send({ type: 'reply', reply: { id, ok: true } });
      setImmediate(() => process.exit(0));
    }
  };
  process.on('message', (message: { id: number; command: string; args: never }) => {
    if (message.command === 'stop') {
      void stop(message.id);
      return;
    }
    const handler = handlers[message.command];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.command}`);
        return handler(message.args);
      })
      .then(
        (value) => send({ type: 'reply', reply: { id: message.id, ok: true, value } }),
        (error: unknown) =>
          send({
            type: 'reply',
            reply: { id: message.id, ok: false, error: (error as Error).message },
          }),
      );
  });
  process.on('disconnect', () => void stop());
  send({ type: 'ready', value: options.ready });
}

/** Runs a child's startup; a failure is reported to the parent instead of an unhandled crash. */
export function startChildMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.send?.({
      type: 'failed',
      error: (error as Error).stack ?? String(error),
    } satisfies Message);
    setImmediate(() => process.exit(1));
  });
}

/** CPU seconds (user + system) used so far by a process and its descendants, from /proc. */
export function processTreeCpuSeconds(pid: number): number {
  const ticksPerSecond = 100; // USER_HZ: 100 on every Linux architecture Node supports.
  let seconds = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    seconds += (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const childPid of children ? children.split(' ') : [])
        seconds += processTreeCpuSeconds(Number(childPid));
    }
  } catch {
    // The process ended between reads: it uses no more CPU.
  }
  return seconds;
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kib) * 1024;
}

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Runs `body` with an `own` function that registers each process it starts; all of them are
 * stopped at the end, in reverse order, also when `body` throws.
 */
export async function withProcesses<T>(
  body: (own: <P extends Stoppable>(started: P) => P) => Promise<T>,
): Promise<T> {
  const owned: Stoppable[] = [];
  try {
    return await body((started) => {
      owned.push(started);
      return started;
    });
  } finally {
    for (const started of owned.reverse()) {
      await started.stop().catch((error: unknown) => {
        console.error('could not stop a benchmark process:', error);
      });
    }
  }
}
