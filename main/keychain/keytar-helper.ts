import type { KeytarApi } from './keytar-store.js';
import type { KeytarHelperReply, KeytarHelperRequest } from './keytar-process.js';

/**
 * The keychain helper process (see keytar-process.ts for why it exists): answers keytar calls
 * sent by its parent over IPC — `child_process.fork` (the CLI, tests) or Electron's
 * `utilityProcess` (the app) — and ends with its parent. It writes nothing anywhere: secrets only
 * pass through the IPC channel.
 */

interface ParentChannel {
  onMessage(listener: (message: unknown) => void): void;
  reply(message: KeytarHelperReply): void;
}

/** Electron's `process.parentPort` in a utility process (not in Node's types). */
interface ElectronParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function parentChannel(): ParentChannel | undefined {
  // Electron's global types declare it always present; under Node it is not.
  const port = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (port) {
    return {
      onMessage: (listener) => port.on('message', (event) => listener(event.data)),
      reply: (message) => port.postMessage(message),
    };
  }
  if (process.send) {
    return {
      onMessage: (listener) => process.on('message', listener),
      reply: (message) => process.send?.(message),
    };
  }
  return undefined;
}

function isRequest(message: unknown): message is KeytarHelperRequest {
  if (typeof message !== 'object' || message === null) return false;
  const { id, op, service, account } = message as Record<string, unknown>;
  return (
    typeof id === 'number' &&
    (op === 'get' || op === 'set' || op === 'delete') &&
    typeof service === 'string' &&
    typeof account === 'string'
  );
}

async function loadKeytar(): Promise<KeytarApi> {
  const imported = (await import('keytar')) as KeytarApi & { default?: KeytarApi };
  return imported.default ?? imported;
}

async function run(keytar: KeytarApi, request: KeytarHelperRequest): Promise<KeytarHelperReply> {
  try {
    switch (request.op) {
      case 'get':
        return {
          id: request.id,
          ok: true,
          value: await keytar.getPassword(request.service, request.account),
        };
      case 'set':
        await keytar.setPassword(request.service, request.account, request.password ?? '');
        return { id: request.id, ok: true, value: null };
      case 'delete':
        return {
          id: request.id,
          ok: true,
          value: await keytar.deletePassword(request.service, request.account),
        };
    }
  } catch (error) {
    return {
      id: request.id,
      ok: false,
      message: error instanceof Error ? error.message : String(error),
    };
  }
}

const parent = parentChannel();
if (parent) {
  const keytar = loadKeytar();
  parent.onMessage((message) => {
    if (!isRequest(message)) return;
    keytar.then(
      async (api) => parent.reply(await run(api, message)),
      (error: unknown) =>
        parent.reply({
          id: message.id,
          ok: false,
          message: `the keychain library (keytar) could not be loaded (${error instanceof Error ? error.message : String(error)})`,
        }),
    );
  });
  // Ends with its parent (child_process: the IPC channel closes; Electron kills utility processes).
  process.on('disconnect', () => process.exit(0));
}
