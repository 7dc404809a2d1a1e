import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientEnvironment } from '../clients/index.js';
import { resolveConfigDir } from '../state/paths.js';

export interface BridgeCommand {
  command: string;
  args: string[];
}

/** An absolute path for `name` on the environment's PATH (GUI apps do not see the shell's). */
export function findOnPath(name: string, environment: ClientEnvironment): string | undefined {
  const p = environment.platform === 'win32' ? path.win32 : path.posix;
  const separator = environment.platform === 'win32' ? ';' : ':';
  const names = environment.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const folder of (environment.env.PATH ?? '').split(separator)) {
    if (folder === '' || !p.isAbsolute(folder)) continue;
    for (const candidate of names.map((n) => p.join(folder, n))) {
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * The packaged app's executable runs `pm-mcp` when its first argument is this flag (no window,
 * no tray), so Claude Desktop's bridge works where no Node and no source checkout exist.
 */
export const appCliFlag = '--pm-mcp-cli';

/** The packaged app as the program that runs `pm-mcp` (an AppImage by its stable path). */
export function packagedAppLauncher(executable: string): BridgeCommand {
  return { command: executable, args: [appCliFlag] };
}

/**
 * Node running `bin/pm-mcp.js`, both absolute. From the CLI that is this Node; inside an Electron
 * run from source (whose executable is not Node) the `node` on PATH.
 */
export function nodeLauncher(environment: ClientEnvironment): BridgeCommand {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // From source: <root>/main/core; compiled: <root>/dist/main/core.
  const candidates = [
    path.resolve(here, '../../bin/pm-mcp.js'),
    path.resolve(here, '../../../bin/pm-mcp.js'),
  ] as const;
  const script = candidates.find((candidate) => existsSync(candidate)) ?? candidates[0];
  const runningInElectron = typeof process.versions.electron === 'string';
  const node = runningInElectron ? (findOnPath('node', environment) ?? 'node') : process.execPath;
  return { command: node, args: [script] };
}

/**
 * What Claude Desktop runs: `<launcher> [--home DIR] bridge`. A config folder other than the OS
 * default is passed with `--home`, since Claude Desktop starts the bridge without our environment.
 */
export function defaultBridgeCommand(
  configDir: string,
  environment: ClientEnvironment,
  launcher: BridgeCommand = nodeLauncher(environment),
): BridgeCommand {
  const osDefault = resolveConfigDir({
    ...environment,
    env: { ...environment.env, PM_MCP_HOME: '' },
  });
  const home = configDir === osDefault ? [] : ['--home', configDir];
  return { command: launcher.command, args: [...launcher.args, ...home, 'bridge'] };
}

/** `<app> --pm-mcp-cli <arguments…>` → the arguments; undefined for a normal start. */
export function appCliArguments(argv: readonly string[]): string[] | undefined {
  const at = argv.indexOf(appCliFlag);
  return at === -1 ? undefined : argv.slice(at + 1);
}
