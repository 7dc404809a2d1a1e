import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultBridgeCommand, findOnPath } from '../../main/core/bridge-command.js';

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

  it('finds a program on PATH as an absolute path', () => {
    const env = { PATH: `relative/bin:${path.dirname(process.execPath)}` };
    expect(findOnPath(path.basename(process.execPath), { ...environment, env })).toBe(
      process.execPath,
    );
    expect(findOnPath('no-such-program-pm-mcp', { ...environment, env })).toBeUndefined();
  });
});
