import { describe, expect, it } from 'vitest';
import type { ClientEnvironment } from '../../main/clients/index.js';
import { clientConfigPath } from '../../main/clients/index.js';
import { desktopErrorFromSync } from './helpers.js';

const linux: ClientEnvironment = { homeDir: '/home/ada', platform: 'linux', env: {} };
const darwin: ClientEnvironment = { homeDir: '/Users/ada', platform: 'darwin', env: {} };
const win32: ClientEnvironment = {
  homeDir: 'C:\\Users\\ada',
  platform: 'win32',
  env: { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' },
};

describe('user-level config paths per platform', () => {
  it('on Linux follow the home folder and ~/.config', () => {
    const options = { environment: linux };
    expect(clientConfigPath('cursor', options)).toBe('/home/ada/.cursor/mcp.json');
    expect(clientConfigPath('vscode', options)).toBe('/home/ada/.config/Code/User/mcp.json');
    expect(clientConfigPath('claude-code', options)).toBe('/home/ada/.claude.json');
    expect(clientConfigPath('windsurf', options)).toBe(
      '/home/ada/.codeium/windsurf/mcp_config.json',
    );
    expect(clientConfigPath('claude-desktop', options)).toBe(
      '/home/ada/.config/Claude/claude_desktop_config.json',
    );
  });

  it('on Linux honour an absolute XDG_CONFIG_HOME and ignore a relative one', () => {
    const xdg = { environment: { ...linux, env: { XDG_CONFIG_HOME: '/srv/ada-config' } } };
    expect(clientConfigPath('vscode', xdg)).toBe('/srv/ada-config/Code/User/mcp.json');
    expect(clientConfigPath('claude-desktop', xdg)).toBe(
      '/srv/ada-config/Claude/claude_desktop_config.json',
    );
    const relative = { environment: { ...linux, env: { XDG_CONFIG_HOME: 'config' } } };
    expect(clientConfigPath('vscode', relative)).toBe('/home/ada/.config/Code/User/mcp.json');
  });

  it('on macOS use ~/Library/Application Support for VS Code and Claude Desktop', () => {
    const options = { environment: darwin };
    expect(clientConfigPath('cursor', options)).toBe('/Users/ada/.cursor/mcp.json');
    expect(clientConfigPath('vscode', options)).toBe(
      '/Users/ada/Library/Application Support/Code/User/mcp.json',
    );
    expect(clientConfigPath('claude-code', options)).toBe('/Users/ada/.claude.json');
    expect(clientConfigPath('windsurf', options)).toBe(
      '/Users/ada/.codeium/windsurf/mcp_config.json',
    );
    expect(clientConfigPath('claude-desktop', options)).toBe(
      '/Users/ada/Library/Application Support/Claude/claude_desktop_config.json',
    );
  });

  it('on Windows use %USERPROFILE% and %APPDATA% with backslashes', () => {
    const options = { environment: win32 };
    expect(clientConfigPath('cursor', options)).toBe('C:\\Users\\ada\\.cursor\\mcp.json');
    expect(clientConfigPath('vscode', options)).toBe(
      'C:\\Users\\ada\\AppData\\Roaming\\Code\\User\\mcp.json',
    );
    expect(clientConfigPath('claude-code', options)).toBe('C:\\Users\\ada\\.claude.json');
    expect(clientConfigPath('windsurf', options)).toBe(
      'C:\\Users\\ada\\.codeium\\windsurf\\mcp_config.json',
    );
    expect(clientConfigPath('claude-desktop', options)).toBe(
      'C:\\Users\\ada\\AppData\\Roaming\\Claude\\claude_desktop_config.json',
    );
  });

  it('on Windows without APPDATA fall back to AppData\\Roaming under the home folder', () => {
    const options = { environment: { ...win32, env: {} } };
    expect(clientConfigPath('vscode', options)).toBe(
      'C:\\Users\\ada\\AppData\\Roaming\\Code\\User\\mcp.json',
    );
  });
});

describe('project-level config paths', () => {
  it('are .cursor/mcp.json, .vscode/mcp.json and .mcp.json inside the project', () => {
    const posix = { environment: linux, projectDir: '/work/app' };
    expect(clientConfigPath('cursor', posix)).toBe('/work/app/.cursor/mcp.json');
    expect(clientConfigPath('vscode', posix)).toBe('/work/app/.vscode/mcp.json');
    expect(clientConfigPath('claude-code', posix)).toBe('/work/app/.mcp.json');
    const windows = { environment: win32, projectDir: 'D:\\src\\app' };
    expect(clientConfigPath('cursor', windows)).toBe('D:\\src\\app\\.cursor\\mcp.json');
    expect(clientConfigPath('vscode', windows)).toBe('D:\\src\\app\\.vscode\\mcp.json');
  });

  it('are refused for clients without project files, and for a relative folder', () => {
    const windsurf = desktopErrorFromSync(() =>
      clientConfigPath('windsurf', { environment: linux, projectDir: '/work/app' }),
    );
    expect(windsurf.code).toBe('usage');
    expect(windsurf.message).toContain('Windsurf has no project-level configuration');
    const desktop = desktopErrorFromSync(() =>
      clientConfigPath('claude-desktop', { environment: linux, projectDir: '/work/app' }),
    );
    expect(desktop.code).toBe('usage');
    const relative = desktopErrorFromSync(() =>
      clientConfigPath('cursor', { environment: linux, projectDir: 'app' }),
    );
    expect(relative.code).toBe('usage');
    expect(relative.message).toContain('absolute');
  });
});
