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
 * What Claude Desktop runs by default: Node running `bin/pm-mcp.js bridge`, both absolute. From
 * the CLI that is this Node; inside Electron (whose executable is not Node) the `node` on PATH.
 * A config folder other than the OS default is passed with `--home`, since Claude Desktop starts
 * the bridge without our environment.
 */
export function defaultBridgeCommand(
  configDir: string,
  environment: ClientEnvironment,
): BridgeCommand {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // From source: <root>/main/core; compiled: <root>/dist/main/core. A packaged app needs bin/
  // outside the asar (asarUnpack), which is where `.asar.unpacked` points.
  const script =
    [path.resolve(here, '../../bin/pm-mcp.js'), path.resolve(here, '../../../bin/pm-mcp.js')]
      .map((candidate) => candidate.replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`))
      .find((candidate) => existsSync(candidate)) ?? path.resolve(here, '../../bin/pm-mcp.js');
  const runningInElectron = typeof process.versions.electron === 'string';
  const node = runningInElectron ? (findOnPath('node', environment) ?? 'node') : process.execPath;
  const osDefault = resolveConfigDir({
    ...environment,
    env: { ...environment.env, PM_MCP_HOME: '' },
  });
  const home = configDir === osDefault ? [] : ['--home', configDir];
  return { command: node, args: [script, ...home, 'bridge'] };
}
