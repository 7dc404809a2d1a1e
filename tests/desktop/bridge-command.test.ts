import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appCliArguments,
  defaultBridgeCommand,
  findOnPath,
  packagedAppLauncher,
} from '../../main/core/bridge-command.js';

describe("Claude Desktop's bridge command", () => {
  const environment = { homeDir: '/home/u', platform: 'linux' as const, env: {} };

  it('is this Node running bin/pm-mcp.js bridge, with absolute paths', () => {
    const bridge = defaultBridgeCommand('/home/u/.config/pm-mcp', environment);
    expect(bridge.command).toBe(process.execPath);
    const [script, ...rest] = bridge.args;
    expect(path.isAbsolute(script ?? '')).toBe(true);
    expect(script?.endsWith(path.join('bin', 'pm-mcp.js'))).toBe(true);
    expect(existsSync(script ?? '')).toBe(true);
    expect(rest).toEqual(['bridge']);
  });

  it('names a config folder other than the OS default', () => {
    const bridge = defaultBridgeCommand('/srv/pm-mcp-home', environment);
    expect(bridge.args.slice(1)).toEqual(['--home', '/srv/pm-mcp-home', 'bridge']);
  });

  it('is the packaged app itself where there is no Node or source checkout', () => {
    const launcher = packagedAppLauncher('/opt/PM MCP/pm-mcp');
    expect(defaultBridgeCommand('/home/u/.config/pm-mcp', environment, launcher)).toEqual({
      command: '/opt/PM MCP/pm-mcp',
      args: ['--pm-mcp-cli', 'bridge'],
    });
    expect(defaultBridgeCommand('/srv/pm-mcp-home', environment, launcher).args).toEqual([
      '--pm-mcp-cli',
      '--home',
      '/srv/pm-mcp-home',
      'bridge',
    ]);
    // How the app reads that back when Claude Desktop starts it.
    expect(appCliArguments(['/opt/PM MCP/pm-mcp', '--pm-mcp-cli', 'bridge'])).toEqual(['bridge']);
    expect(appCliArguments(['/opt/PM MCP/pm-mcp', '--hidden'])).toBeUndefined();
  });

  it('finds a program on PATH as an absolute path', () => {
    const env = { PATH: `relative/bin:${path.dirname(process.execPath)}` };
    expect(findOnPath(path.basename(process.execPath), { ...environment, env })).toBe(
      process.execPath,
    );
    expect(findOnPath('no-such-program-pm-mcp', { ...environment, env })).toBeUndefined();
  });
});
