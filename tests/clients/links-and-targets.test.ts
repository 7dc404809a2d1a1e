import { describe, expect, it } from 'vitest';
import {
  cursorInstallLink,
  parseClientId,
  parseClientTarget,
  proxyMcpUrl,
  serverMcpUrl,
  vscodeInstallLink,
} from '../../main/clients/index.js';
import { desktopErrorFromSync, newApiKey, newLocalToken, proxyTarget } from './helpers.js';

describe('install links carry no secret', () => {
  it('Cursor: name=pm-server and a base64 config naming ${env:PM_MCP_LOCAL_TOKEN}', () => {
    const localToken = newLocalToken();
    const link = cursorInstallLink(proxyTarget(8765, localToken));
    const url = new URL(link);
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe(
      'cursor://anysphere.cursor-deeplink/mcp/install',
    );
    expect(url.searchParams.get('name')).toBe('pm-server');
    const config = url.searchParams.get('config') ?? '';
    expect(JSON.parse(Buffer.from(config, 'base64').toString('utf8'))).toEqual({
      url: 'http://127.0.0.1:8765/mcp',
      headers: { Authorization: 'Bearer ${env:PM_MCP_LOCAL_TOKEN}' },
    });
    expect(link).not.toContain(localToken);
  });

  it('VS Code: URL-encoded JSON with name, type, url, headers and a password input', () => {
    const apiKey = newApiKey();
    const link = vscodeInstallLink({
      mode: 'direct',
      serverUrl: 'https://pm.example.com/mcp',
      apiKey,
    });
    const prefix = 'vscode:mcp/install?';
    expect(link.startsWith(prefix)).toBe(true);
    expect(JSON.parse(decodeURIComponent(link.slice(prefix.length)))).toEqual({
      name: 'pm-server',
      type: 'http',
      url: 'https://pm.example.com/mcp',
      headers: { 'X-MCP-API-Key': '${input:pm-mcp-api-key}' },
      inputs: [
        {
          type: 'promptString',
          id: 'pm-mcp-api-key',
          description: 'PM MCP: your MCP key',
          password: true,
        },
      ],
    });
    expect(link).not.toContain(apiKey);
  });
});

describe('targets are validated at the boundary', () => {
  it('accepts a proxy and a direct target', () => {
    expect(parseClientTarget(proxyTarget()).mode).toBe('proxy');
    expect(
      parseClientTarget({
        mode: 'direct',
        serverUrl: 'https://pm.example.com/mcp',
        apiKey: newApiKey(),
      }).mode,
    ).toBe('direct');
  });

  it('refuses a proxy URL that is not loopback, so the local token never goes elsewhere', () => {
    const localToken = newLocalToken();
    const error = desktopErrorFromSync(() =>
      parseClientTarget({ mode: 'proxy', proxyUrl: 'http://evil.example:8765/mcp', localToken }),
    );
    expect(error.code).toBe('usage');
    expect(error.message).toContain('127.0.0.1');
    expect(error.message).not.toContain(localToken);
  });

  it('refuses a secret with spaces without repeating it', () => {
    const broken = `${newLocalToken()} ${newLocalToken()}`;
    const error = desktopErrorFromSync(() =>
      parseClientTarget({ mode: 'proxy', proxyUrl: proxyMcpUrl(8765), localToken: broken }),
    );
    expect(error.message).toContain('local token contains spaces');
    expect(error.message).not.toContain(broken.slice(0, 10));
  });

  it('refuses an unknown mode and an unknown client', () => {
    expect(desktopErrorFromSync(() => parseClientTarget({ mode: 'ftp' })).code).toBe('usage');
    const unknown = desktopErrorFromSync(() => parseClientTarget(null));
    expect(unknown.code).toBe('usage');
    const client = desktopErrorFromSync(() => parseClientId('emacs'));
    expect(client.message).toContain('cursor, vscode, claude-code, windsurf, claude-desktop');
    expect(parseClientId('windsurf')).toBe('windsurf');
  });

  it('builds MCP endpoint URLs', () => {
    expect(proxyMcpUrl(8765)).toBe('http://127.0.0.1:8765/mcp');
    expect(serverMcpUrl('https://pm.example.com/')).toBe('https://pm.example.com/mcp');
    expect(serverMcpUrl('https://pm.example.com/base/mcp')).toBe('https://pm.example.com/base/mcp');
  });
});
