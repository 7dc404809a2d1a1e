import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configureClient } from '../../main/clients/index.js';
import type { TempHome } from './helpers.js';
import { desktopErrorFrom, makeTempHome, newApiKey, newLocalToken, readJson } from './helpers.js';

let temp: TempHome;
beforeEach(async () => {
  temp = await makeTempHome();
});
afterEach(async () => {
  await temp.cleanup();
});

const proxyUrl = 'http://127.0.0.1:8765/mcp';

describe('entries written in proxy mode match reference/mcp-clients.md', () => {
  it('Cursor: mcpServers.pm-server = { url, headers: { Authorization: Bearer <token> } }', async () => {
    const localToken = newLocalToken();
    const result = await configureClient(
      'cursor',
      { mode: 'proxy', proxyUrl, localToken },
      temp.options,
    );
    expect(result.path).toBe(path.join(temp.home, '.cursor', 'mcp.json'));
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': { url: proxyUrl, headers: { Authorization: `Bearer ${localToken}` } },
      },
    });
  });

  it('VS Code: servers.pm-server = { type: "http", url, headers }', async () => {
    const localToken = newLocalToken();
    const result = await configureClient(
      'vscode',
      { mode: 'proxy', proxyUrl, localToken },
      temp.options,
    );
    expect(result.path).toBe(path.join(temp.home, '.config', 'Code', 'User', 'mcp.json'));
    expect(await readJson(result.path)).toEqual({
      servers: {
        'pm-server': {
          type: 'http',
          url: proxyUrl,
          headers: { Authorization: `Bearer ${localToken}` },
        },
      },
    });
  });

  it('Claude Code: top-level mcpServers.pm-server = { type: "http", url, headers } in ~/.claude.json', async () => {
    const localToken = newLocalToken();
    const result = await configureClient(
      'claude-code',
      { mode: 'proxy', proxyUrl, localToken },
      temp.options,
    );
    expect(result.path).toBe(path.join(temp.home, '.claude.json'));
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': {
          type: 'http',
          url: proxyUrl,
          headers: { Authorization: `Bearer ${localToken}` },
        },
      },
    });
  });

  it('Windsurf: mcpServers.pm-server = { serverUrl, headers }', async () => {
    const localToken = newLocalToken();
    const result = await configureClient(
      'windsurf',
      { mode: 'proxy', proxyUrl, localToken },
      temp.options,
    );
    expect(result.path).toBe(path.join(temp.home, '.codeium', 'windsurf', 'mcp_config.json'));
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': { serverUrl: proxyUrl, headers: { Authorization: `Bearer ${localToken}` } },
      },
    });
  });

  it('Claude Desktop: mcpServers.pm-server = { command, args } running our bridge, no secret', async () => {
    const localToken = newLocalToken();
    const result = await configureClient(
      'claude-desktop',
      {
        mode: 'proxy',
        proxyUrl,
        localToken,
        bridgeCommand: '/usr/bin/node',
        bridgeArgs: ['/opt/pm-mcp/bin/pm-mcp.js', 'bridge'],
      },
      temp.options,
    );
    expect(result.path).toBe(
      path.join(temp.home, '.config', 'Claude', 'claude_desktop_config.json'),
    );
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': { command: '/usr/bin/node', args: ['/opt/pm-mcp/bin/pm-mcp.js', 'bridge'] },
      },
    });
    expect(JSON.stringify(await readJson(result.path))).not.toContain(localToken);
  });

  it('Claude Desktop without a bridge command is refused with a usage error', async () => {
    const error = await desktopErrorFrom(() =>
      configureClient(
        'claude-desktop',
        { mode: 'proxy', proxyUrl, localToken: newLocalToken() },
        temp.options,
      ),
    );
    expect(error.code).toBe('usage');
    expect(error.message).toContain('bridge command is missing');
  });

  it('Claude Desktop with a bare command name gets a note about PATH', async () => {
    const result = await configureClient(
      'claude-desktop',
      {
        mode: 'proxy',
        proxyUrl,
        localToken: newLocalToken(),
        bridgeCommand: 'pm-mcp',
        bridgeArgs: ['bridge'],
      },
      temp.options,
    );
    expect(result.notes.join(' ')).toContain('PATH');
  });
});

describe('entries written in direct mode carry the server URL and X-MCP-API-Key', () => {
  const serverUrl = 'https://pm.example.com/mcp';

  it.each([
    ['cursor', 'mcpServers', {}, 'url'],
    ['vscode', 'servers', { type: 'http' }, 'url'],
    ['claude-code', 'mcpServers', { type: 'http' }, 'url'],
    ['windsurf', 'mcpServers', {}, 'serverUrl'],
  ] as const)('%s', async (client, topKey, extra, urlKey) => {
    const apiKey = newApiKey();
    const result = await configureClient(
      client,
      { mode: 'direct', serverUrl, apiKey },
      temp.options,
    );
    expect(await readJson(result.path)).toEqual({
      [topKey]: {
        'pm-server': { ...extra, [urlKey]: serverUrl, headers: { 'X-MCP-API-Key': apiKey } },
      },
    });
  });
});

describe('project-level files never hold a secret', () => {
  it('Cursor project: headers read the token from ${env:PM_MCP_LOCAL_TOKEN}', async () => {
    const localToken = newLocalToken();
    const projectDir = path.join(temp.home, 'project');
    const result = await configureClient(
      'cursor',
      { mode: 'proxy', proxyUrl, localToken },
      { ...temp.options, projectDir },
    );
    expect(result.path).toBe(path.join(projectDir, '.cursor', 'mcp.json'));
    expect(result.scope).toBe('project');
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': {
          url: proxyUrl,
          headers: { Authorization: 'Bearer ${env:PM_MCP_LOCAL_TOKEN}' },
        },
      },
    });
    expect(result.notes.join(' ')).toContain('PM_MCP_LOCAL_TOKEN');
  });

  it('Cursor project in direct mode: ${env:PM_MCP_API_KEY}, never the key', async () => {
    const apiKey = newApiKey();
    const projectDir = path.join(temp.home, 'project');
    const result = await configureClient(
      'cursor',
      { mode: 'direct', serverUrl: 'https://pm.example.com/mcp', apiKey },
      { ...temp.options, projectDir },
    );
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': {
          url: 'https://pm.example.com/mcp',
          headers: { 'X-MCP-API-Key': '${env:PM_MCP_API_KEY}' },
        },
      },
    });
  });

  it('VS Code workspace: ${input:…} with a password promptString input', async () => {
    const localToken = newLocalToken();
    const projectDir = path.join(temp.home, 'project');
    const result = await configureClient(
      'vscode',
      { mode: 'proxy', proxyUrl, localToken },
      { ...temp.options, projectDir },
    );
    expect(result.path).toBe(path.join(projectDir, '.vscode', 'mcp.json'));
    expect(await readJson(result.path)).toEqual({
      servers: {
        'pm-server': {
          type: 'http',
          url: proxyUrl,
          headers: { Authorization: 'Bearer ${input:pm-mcp-local-token}' },
        },
      },
      inputs: [
        {
          type: 'promptString',
          id: 'pm-mcp-local-token',
          description: 'PM MCP: the local proxy token of this install',
          password: true,
        },
      ],
    });
  });

  it('Claude Code project .mcp.json: ${PM_MCP_LOCAL_TOKEN}', async () => {
    const localToken = newLocalToken();
    const projectDir = path.join(temp.home, 'project');
    const result = await configureClient(
      'claude-code',
      { mode: 'proxy', proxyUrl, localToken },
      { ...temp.options, projectDir },
    );
    expect(result.path).toBe(path.join(projectDir, '.mcp.json'));
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': {
          type: 'http',
          url: proxyUrl,
          headers: { Authorization: 'Bearer ${PM_MCP_LOCAL_TOKEN}' },
        },
      },
    });
  });
});
