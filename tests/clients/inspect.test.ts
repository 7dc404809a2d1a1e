import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientIds } from '../../preload/contract.js';
import type { ClientTarget } from '../../main/clients/index.js';
import {
  configureClient,
  inspectAllClients,
  inspectClient,
  toClientStatus,
} from '../../main/clients/index.js';
import type { TempHome } from './helpers.js';
import { makeTempHome, newLocalToken, proxyTarget, readJson, writeFileIn } from './helpers.js';

let temp: TempHome;
let cursorFile: string;
beforeEach(async () => {
  temp = await makeTempHome();
  cursorFile = path.join(temp.home, '.cursor', 'mcp.json');
});
afterEach(async () => {
  await temp.cleanup();
});

describe('inspectClient', () => {
  it('says missing when the file does not exist, and writes nothing', async () => {
    const status = await inspectClient('cursor', proxyTarget(), temp.options);
    expect(status).toMatchObject({ client: 'cursor', label: 'Cursor', state: 'missing' });
    expect(status.path).toBe(cursorFile);
    expect(status.detail).toContain('does not exist');
    await expect(fs.stat(path.dirname(cursorFile))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says missing when the file has no pm-server entry', async () => {
    await writeFileIn(cursorFile, '{ "mcpServers": { "other": {} } }');
    const status = await inspectClient('cursor', proxyTarget(), temp.options);
    expect(status.state).toBe('missing');
    expect(status.detail).toContain('No "pm-server" entry');
  });

  it('says current right after configuring', async () => {
    const target = proxyTarget();
    await configureClient('cursor', target, temp.options);
    const status = await inspectClient('cursor', target, temp.options);
    expect(status).toMatchObject({ state: 'current', detail: null, scope: 'user' });
  });

  it('detects drift after another program edits our entry, without echoing the token', async () => {
    const localToken = newLocalToken();
    const target = proxyTarget(8765, localToken);
    await configureClient('cursor', target, temp.options);
    const config = (await readJson(cursorFile)) as {
      mcpServers: { 'pm-server': { url: string; headers: Record<string, string> } };
    };
    config.mcpServers['pm-server'].url = 'http://127.0.0.1:9000/mcp';
    config.mcpServers['pm-server'].headers.Authorization = 'Bearer something-else-entirely';
    await fs.writeFile(cursorFile, JSON.stringify(config, null, 2));

    const status = await inspectClient('cursor', target, temp.options);
    expect(status.state).toBe('changed');
    expect(status.detail).toContain(
      '"url" is "http://127.0.0.1:9000/mcp" instead of "http://127.0.0.1:8765/mcp"',
    );
    expect(status.detail).toContain('the Authorization header has a different value');
    expect(status.detail).not.toContain(localToken);
    expect(status.detail).not.toContain('something-else-entirely');

    await configureClient('cursor', target, temp.options);
    expect((await inspectClient('cursor', target, temp.options)).state).toBe('current');
  });

  it('detects drift when the local token was rotated since the file was written', async () => {
    await configureClient('windsurf', proxyTarget(), temp.options);
    const status = await inspectClient('windsurf', proxyTarget(), temp.options);
    expect(status.state).toBe('changed');
    expect(status.detail).toContain('Authorization header');
  });

  it('detects an added field as drift', async () => {
    const target = proxyTarget();
    await configureClient('claude-code', target, temp.options);
    const file = path.join(temp.home, '.claude.json');
    const config = (await readJson(file)) as { mcpServers: Record<string, object> };
    config.mcpServers['pm-server'] = { ...config.mcpServers['pm-server'], disabled: true };
    await fs.writeFile(file, JSON.stringify(config));
    const status = await inspectClient('claude-code', target, temp.options);
    expect(status.state).toBe('changed');
    expect(status.detail).toContain('"disabled" was added');
  });

  it('detects a token file that became readable by others', async () => {
    const target = proxyTarget();
    await configureClient('cursor', target, temp.options);
    await fs.chmod(cursorFile, 0o644);
    const status = await inspectClient('cursor', target, temp.options);
    expect(status.state).toBe('changed');
    expect(status.detail).toContain('mode 644');
  });

  it('detects a removed VS Code input as drift', async () => {
    const projectDir = path.join(temp.home, 'project');
    const options = { ...temp.options, projectDir };
    const target = proxyTarget();
    await configureClient('vscode', target, options);
    const file = path.join(projectDir, '.vscode', 'mcp.json');
    const config = (await readJson(file)) as Record<string, unknown>;
    delete config.inputs;
    await fs.writeFile(file, JSON.stringify(config));
    const status = await inspectClient('vscode', target, options);
    expect(status.state).toBe('changed');
    expect(status.detail).toContain('"pm-mcp-local-token" input is missing');
  });

  it('says unparseable, with line and column, for a broken file and leaves it alone', async () => {
    await writeFileIn(cursorFile, '{\n  "mcpServers": {,\n}');
    const before = await fs.readFile(cursorFile);
    const status = await inspectClient('cursor', proxyTarget(), temp.options);
    expect(status.state).toBe('unparseable');
    expect(status.detail).toContain(cursorFile);
    expect(status.detail).toMatch(/line 2, column \d+/);
    expect((await fs.readFile(cursorFile)).equals(before)).toBe(true);
  });
});

describe('inspectAllClients', () => {
  it('reports every client, in the contract order, mapping onto ClientStatus', async () => {
    const target: ClientTarget = {
      ...proxyTarget(),
      bridgeCommand: '/usr/bin/node',
      bridgeArgs: ['/opt/pm-mcp/bin/pm-mcp.js', 'bridge'],
    };
    await configureClient('cursor', target, temp.options);
    await configureClient('claude-desktop', target, temp.options);
    await writeFileIn(path.join(temp.home, '.claude.json'), '{ broken');

    const statuses = await inspectAllClients(target, temp.options);
    expect(statuses.map((status) => status.client)).toEqual([...clientIds]);
    expect(statuses.map((status) => [status.client, status.state])).toEqual([
      ['cursor', 'current'],
      ['vscode', 'missing'],
      ['claude-code', 'unparseable'],
      ['windsurf', 'missing'],
      ['claude-desktop', 'current'],
      ...clientIds.slice(5).map((client) => [client, 'missing']),
    ]);
    const cursorStatus = statuses[0];
    expect(cursorStatus && toClientStatus(cursorStatus)).toEqual({
      client: 'cursor',
      label: 'Cursor',
      path: cursorFile,
      state: 'current',
      detail: null,
    });
  });

  it('looks at project files where a project folder is given and the client has them', async () => {
    const projectDir = path.join(temp.home, 'project');
    const target: ClientTarget = { ...proxyTarget(), bridgeCommand: '/usr/bin/pm-mcp' };
    const statuses = await inspectAllClients(target, { ...temp.options, projectDir });
    expect(statuses.map((status) => [status.client, status.scope])).toEqual([
      ['cursor', 'project'],
      ['vscode', 'project'],
      ['claude-code', 'project'],
      ['windsurf', 'user'],
      ['claude-desktop', 'user'],
      ['gemini-cli', 'project'],
      ['codex', 'project'],
      ['zed', 'user'],
      ['cline', 'user'],
      ['roo-code', 'user'],
      ['continue', 'project'],
      ['goose', 'user'],
      ['opencode', 'project'],
      ['jetbrains', 'user'],
      ['lm-studio', 'user'],
      ['amazon-q', 'project'],
      ['qwen-code', 'project'],
    ]);
    expect(statuses[2]?.path).toBe(path.join(projectDir, '.mcp.json'));
  });
});
