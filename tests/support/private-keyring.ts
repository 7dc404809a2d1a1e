import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './cluster.js';

/**
 * A Secret Service of a test's own: a private D-Bus session bus (no service activation, so a
 * stopped gnome-keyring stays stopped) and an unlocked gnome-keyring on it, with its keyring files
 * in a temporary folder, that the test stops and starts again at will. Nothing touches the user's
 * keyrings or the session the rest of the suite shares.
 */
export interface PrivateKeyring {
  /** The bus address: set it as `DBUS_SESSION_BUS_ADDRESS` before the first keychain call. */
  readonly busAddress: string;
  /** Starts gnome-keyring and resolves once it owns `org.freedesktop.secrets`. */
  start(): Promise<void>;
  /** Stops gnome-keyring (SIGTERM) and resolves once it has exited and left the bus. */
  stop(): Promise<void>;
  /** Stops everything and removes the folder. */
  close(): Promise<void>;
}

const execFileAsync = promisify(execFile);

function busConfig(folder: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

export async function startPrivateKeyring(): Promise<PrivateKeyring> {
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-keyring-'));
  const configFile = path.join(folder, 'bus.conf');
  writeFileSync(configFile, busConfig(folder));
  const bus = spawn(
    'dbus-daemon',
    [`--config-file=${configFile}`, '--nofork', '--print-address=1'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const [chunk] = (await once(bus.stdout, 'data')) as [Buffer];
  const busAddress = chunk.toString('utf8').trim().split('\n')[0] ?? '';
  const env = {
    ...process.env,
    DBUS_SESSION_BUS_ADDRESS: busAddress,
    XDG_DATA_HOME: folder,
    XDG_RUNTIME_DIR: folder,
  };
  const secretsOwned = async (): Promise<boolean> => {
    const { stdout } = await execFileAsync(
      'dbus-send',
      [
        '--session',
        '--print-reply',
        '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus.NameHasOwner',
        'string:org.freedesktop.secrets',
      ],
      { env },
    );
    return /boolean true/.test(stdout);
  };
  let daemon: ChildProcess | undefined;

  const keyring: PrivateKeyring = {
    busAddress,
    async start() {
      const started = spawn(
        'gnome-keyring-daemon',
        ['--foreground', '--unlock', '--components=secrets'],
        { env, stdio: ['pipe', 'ignore', 'ignore'] },
      );
      // The keyring's password, on stdin: the same each start, so the keyring opens again.
      started.stdin.end('pm-mcp-test-keyring');
      daemon = started;
      await waitFor('gnome-keyring to own org.freedesktop.secrets', secretsOwned, 30_000, 50);
    },
    async stop() {
      const running = daemon;
      daemon = undefined;
      if (running && running.exitCode === null && running.signalCode === null) {
        const exited = once(running, 'exit');
        running.kill('SIGTERM');
        await exited;
      }
      await waitFor(
        'org.freedesktop.secrets to leave the bus',
        async () => !(await secretsOwned()),
      );
    },
    async close() {
      await keyring.stop().catch(() => undefined);
      bus.kill('SIGTERM');
      rmSync(folder, { recursive: true, force: true });
    },
  };
  return keyring;
}
