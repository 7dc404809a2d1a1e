import { utilityProcess } from 'electron';
import { keytarHelperEntry, type KeytarHelperProcess } from '../keychain/keytar-process.js';

/**
 * The keychain helper (main/keychain/keytar-process.ts) as an Electron utility process: the
 * packaged app's binary is not Node (its RunAsNode fuse is off), so `child_process.fork` of it
 * would start a second app. A utility process runs the compiled helper with Electron's own Node.
 */
export function forkKeytarUtilityProcess(): KeytarHelperProcess {
  const child = utilityProcess.fork(keytarHelperEntry(), [], {
    serviceName: 'PM MCP keychain',
    stdio: 'ignore',
  });
  return {
    post: (request) => child.postMessage(request),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.once('exit', () => listener()),
    // Utility processes never keep the app running.
    setRef: () => undefined,
    kill: () => child.kill(),
  };
}
