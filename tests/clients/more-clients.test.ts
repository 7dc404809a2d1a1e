import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from '@decimalturn/toml-patch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { ClientEnvironment, ClientTarget, ProxyTarget } from '../../main/clients/index.js';
import {
  backupSuffix,
  clientConfigPath,
  configureClient,
  detectInstalledClients,
  inspectClient,
  isClientInstalled,
  removedKeyMarker,
  unconfigureClient,
} from '../../main/clients/index.js';
import type { ClientId } from '../../preload/contract.js';
import type { TempHome } from './helpers.js';
import {
  desktopErrorFrom,
  makeTempHome,
  modeOf,
  newApiKey,
  newLocalToken,
  readJson,
  writeFileIn,
} from './helpers.js';

let temp: TempHome;
beforeEach(async () => {
  temp = await makeTempHome();
});
afterEach(async () => {
  await temp.cleanup();
});

const proxyUrl = 'http://127.0.0.1:8765/mcp';
const bridge = {
  bridgeCommand: '/usr/bin/node',
  bridgeArgs: ['/opt/pm-mcp/bin/pm-mcp.js', 'bridge'],
};

function proxy(localToken = newLocalToken()): ProxyTarget {
  return { mode: 'proxy', proxyUrl, localToken, ...bridge };
}

const linux: ClientEnvironment = { homeDir: '/home/ada', platform: 'linux', env: {} };
const darwin: ClientEnvironment = { homeDir: '/Users/ada', platform: 'darwin', env: {} };
const win32: ClientEnvironment = {
  homeDir: 'C:\\Users\\ada',
  platform: 'win32',
  env: { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' },
};

describe('paths of the new clients per OS (user scope)', () => {
  const expected: Record<string, [string, string, string]> = {
    'gemini-cli': [
      '/home/ada/.gemini/settings.json',
      '/Users/ada/.gemini/settings.json',
      'C:\\Users\\ada\\.gemini\\settings.json',
    ],
    'qwen-code': [
      '/home/ada/.qwen/settings.json',
      '/Users/ada/.qwen/settings.json',
      'C:\\Users\\ada\\.qwen\\settings.json',
    ],
    codex: [
      '/home/ada/.codex/config.toml',
      '/Users/ada/.codex/config.toml',
      'C:\\Users\\ada\\.codex\\config.toml',
    ],
    zed: [
      '/home/ada/.config/zed/settings.json',
      '/Users/ada/.config/zed/settings.json',
      'C:\\Users\\ada\\AppData\\Roaming\\Zed\\settings.json',
    ],
    cline: [
      '/home/ada/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      '/Users/ada/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'C:\\Users\\ada\\AppData\\Roaming\\Code\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json',
    ],
    'roo-code': [
      '/home/ada/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      '/Users/ada/Library/Application Support/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      'C:\\Users\\ada\\AppData\\Roaming\\Code\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json',
    ],
    continue: [
      '/home/ada/.continue/config.yaml',
      '/Users/ada/.continue/config.yaml',
      'C:\\Users\\ada\\.continue\\config.yaml',
    ],
    goose: [
      '/home/ada/.config/goose/config.yaml',
      '/Users/ada/.config/goose/config.yaml',
      'C:\\Users\\ada\\AppData\\Roaming\\Block\\goose\\config\\config.yaml',
    ],
    opencode: [
      '/home/ada/.config/opencode/opencode.json',
      '/Users/ada/.config/opencode/opencode.json',
      'C:\\Users\\ada\\.config\\opencode\\opencode.json',
    ],
    'lm-studio': [
      '/home/ada/.lmstudio/mcp.json',
      '/Users/ada/.lmstudio/mcp.json',
      'C:\\Users\\ada\\.lmstudio\\mcp.json',
    ],
    'amazon-q': [
      '/home/ada/.aws/amazonq/mcp.json',
      '/Users/ada/.aws/amazonq/mcp.json',
      'C:\\Users\\ada\\.aws\\amazonq\\mcp.json',
    ],
  };
  it.each(Object.entries(expected))('%s', (client, [onLinux, onMac, onWindows]) => {
    const id = client as ClientId;
    expect(clientConfigPath(id, { environment: linux })).toBe(onLinux);
    expect(clientConfigPath(id, { environment: darwin })).toBe(onMac);
    expect(clientConfigPath(id, { environment: win32 })).toBe(onWindows);
  });

  it('honours XDG_CONFIG_HOME (Zed, Goose, opencode) and CODEX_HOME', () => {
    const environment = {
      ...linux,
      env: { XDG_CONFIG_HOME: '/srv/cfg', CODEX_HOME: '/srv/codex' },
    };
    expect(clientConfigPath('zed', { environment })).toBe('/srv/cfg/zed/settings.json');
    expect(clientConfigPath('goose', { environment })).toBe('/srv/cfg/goose/config.yaml');
    expect(clientConfigPath('opencode', { environment })).toBe('/srv/cfg/opencode/opencode.json');
    expect(clientConfigPath('codex', { environment })).toBe('/srv/codex/config.toml');
  });

  it('project files where the client has them, and a clear refusal where not', async () => {
    const projectDir = '/work/app';
    const at = (client: ClientId) => clientConfigPath(client, { environment: linux, projectDir });
    expect(at('gemini-cli')).toBe('/work/app/.gemini/settings.json');
    expect(at('qwen-code')).toBe('/work/app/.qwen/settings.json');
    expect(at('codex')).toBe('/work/app/.codex/config.toml');
    expect(at('continue')).toBe('/work/app/.continue/mcpServers/pm-server.yaml');
    expect(at('opencode')).toBe('/work/app/opencode.json');
    expect(at('amazon-q')).toBe('/work/app/.amazonq/mcp.json');
    for (const client of ['zed', 'cline', 'roo-code', 'goose', 'lm-studio'] as const) {
      const error = await desktopErrorFrom(async () => Promise.resolve(at(client)));
      expect(error.code).toBe('usage');
      expect(error.message).toMatch(/has no project-level configuration/);
    }
  });
});

describe('entries written in proxy mode (user scope)', () => {
  it('Gemini CLI and Qwen Code: mcpServers.pm-server = { httpUrl, headers }', async () => {
    for (const [client, folder] of [
      ['gemini-cli', '.gemini'],
      ['qwen-code', '.qwen'],
    ] as const) {
      const target = proxy();
      const result = await configureClient(client, target, temp.options);
      expect(result.path).toBe(path.join(temp.home, folder, 'settings.json'));
      expect(await readJson(result.path)).toEqual({
        mcpServers: {
          'pm-server': {
            httpUrl: proxyUrl,
            headers: { Authorization: `Bearer ${target.localToken}` },
          },
        },
      });
      expect(await modeOf(result.path)).toBe(0o600);
    }
  });

  it('Codex: [mcp_servers.pm-server] url + http_headers, as a table of its own', async () => {
    const target = proxy();
    const result = await configureClient('codex', target, temp.options);
    const text = await fs.readFile(result.path, 'utf8');
    expect(text).toContain('[mcp_servers.pm-server]\n');
    expect(parseToml(text)).toEqual({
      mcp_servers: {
        'pm-server': {
          url: proxyUrl,
          http_headers: { Authorization: `Bearer ${target.localToken}` },
        },
      },
    });
    expect(await modeOf(result.path)).toBe(0o600);
  });

  it('Zed: context_servers.pm-server = { url, headers }', async () => {
    const target = proxy();
    const result = await configureClient('zed', target, temp.options);
    expect(await readJson(result.path)).toEqual({
      context_servers: {
        'pm-server': { url: proxyUrl, headers: { Authorization: `Bearer ${target.localToken}` } },
      },
    });
  });

  it('Cline and Roo Code: their own transport names', async () => {
    const target = proxy();
    const cline = await configureClient('cline', target, temp.options);
    const roo = await configureClient('roo-code', target, temp.options);
    const headers = { Authorization: `Bearer ${target.localToken}` };
    expect(await readJson(cline.path)).toEqual({
      mcpServers: { 'pm-server': { type: 'streamableHttp', url: proxyUrl, headers } },
    });
    expect(await readJson(roo.path)).toEqual({
      mcpServers: { 'pm-server': { type: 'streamable-http', url: proxyUrl, headers } },
    });
  });

  it('Goose: extensions.pm-server, type streamable_http with uri and headers', async () => {
    const target = proxy();
    const result = await configureClient('goose', target, temp.options);
    expect(parseYaml(await fs.readFile(result.path, 'utf8'))).toEqual({
      extensions: {
        'pm-server': {
          enabled: true,
          type: 'streamable_http',
          name: 'pm-server',
          description: 'PM MCP: Jira and OpenProject',
          uri: proxyUrl,
          headers: { Authorization: `Bearer ${target.localToken}` },
          envs: {},
          env_keys: [],
          timeout: 300,
        },
      },
    });
    expect(await modeOf(result.path)).toBe(0o600);
  });

  it('opencode: mcp.pm-server = { type: "remote", url, headers, enabled }', async () => {
    const target = proxy();
    const result = await configureClient('opencode', target, temp.options);
    expect(await readJson(result.path)).toEqual({
      mcp: {
        'pm-server': {
          type: 'remote',
          url: proxyUrl,
          headers: { Authorization: `Bearer ${target.localToken}` },
          enabled: true,
        },
      },
    });
  });

  it('LM Studio: Cursor notation', async () => {
    const target = proxy();
    const result = await configureClient('lm-studio', target, temp.options);
    expect(await readJson(result.path)).toEqual({
      mcpServers: {
        'pm-server': { url: proxyUrl, headers: { Authorization: `Bearer ${target.localToken}` } },
      },
    });
  });

  it('Continue and Amazon Q run the bridge, and their files hold no secret', async () => {
    const target = proxy();
    const cont = await configureClient('continue', target, temp.options);
    const contText = await fs.readFile(cont.path, 'utf8');
    expect(parseYaml(contText)).toEqual({
      name: 'Local Config',
      version: '1.0.0',
      schema: 'v1',
      mcpServers: [{ name: 'pm-server', command: bridge.bridgeCommand, args: bridge.bridgeArgs }],
    });
    const q = await configureClient('amazon-q', target, temp.options);
    const qText = await fs.readFile(q.path, 'utf8');
    expect(JSON.parse(qText)).toEqual({
      mcpServers: { 'pm-server': { command: bridge.bridgeCommand, args: bridge.bridgeArgs } },
    });
    for (const text of [contText, qText]) expect(text).not.toContain(target.localToken);
    const noBridge = await desktopErrorFrom(() =>
      configureClient(
        'amazon-q',
        { mode: 'proxy', proxyUrl, localToken: newLocalToken() },
        temp.options,
      ),
    );
    expect(noBridge.message).toMatch(/bridge command is missing/);
  });

  it('JetBrains: nothing is written; the JSON to paste runs the bridge and holds no secret', async () => {
    const target = proxy();
    const result = await configureClient('jetbrains', target, temp.options);
    expect(result.changed).toBe(false);
    expect(result.copyText).toBeDefined();
    expect(JSON.parse(result.copyText ?? '')).toEqual({
      mcpServers: { 'pm-server': { command: bridge.bridgeCommand, args: bridge.bridgeArgs } },
    });
    expect(result.copyText).not.toContain(target.localToken);
    expect(result.notes.join(' ')).toMatch(/Model Context Protocol/);
    expect(await fs.readdir(temp.home)).toEqual([]);
    const status = await inspectClient('jetbrains', target, temp.options);
    expect(status.state).toBe('missing');
    expect(status.detail).toMatch(/paste the JSON/);
  });
});

describe('project files never hold a secret', () => {
  it.each([
    ['gemini-cli', '${PM_MCP_LOCAL_TOKEN}'],
    ['qwen-code', '${PM_MCP_LOCAL_TOKEN}'],
    ['opencode', '{env:PM_MCP_LOCAL_TOKEN}'],
    ['codex', 'bearer_token_env_var = "PM_MCP_LOCAL_TOKEN"'],
  ] as const)('%s names the variable instead', async (client, reference) => {
    const projectDir = path.join(temp.home, 'project');
    const target = proxy();
    const result = await configureClient(client, target, { ...temp.options, projectDir });
    const text = await fs.readFile(result.path, 'utf8');
    expect(text).toContain(reference);
    expect(text).not.toContain(target.localToken);
    expect(result.notes.join(' ')).toMatch(/PM_MCP_LOCAL_TOKEN/);
  });

  it('Codex direct mode in a project sends the key from PM_MCP_API_KEY', async () => {
    const projectDir = path.join(temp.home, 'project');
    const apiKey = newApiKey();
    const result = await configureClient(
      'codex',
      { mode: 'direct', serverUrl: 'https://pm.example.com/mcp', apiKey },
      { ...temp.options, projectDir },
    );
    const text = await fs.readFile(result.path, 'utf8');
    expect(parseToml(text)).toEqual({
      mcp_servers: {
        'pm-server': {
          url: 'https://pm.example.com/mcp',
          env_http_headers: { 'X-MCP-API-Key': 'PM_MCP_API_KEY' },
        },
      },
    });
    expect(text).not.toContain(apiKey);
  });

  it("Continue's project block is a file of our own, deleted again on unconfigure", async () => {
    const projectDir = path.join(temp.home, 'project');
    const options = { ...temp.options, projectDir };
    const result = await configureClient('continue', proxy(), options);
    expect(result.path).toBe(path.join(projectDir, '.continue', 'mcpServers', 'pm-server.yaml'));
    expect(parseYaml(await fs.readFile(result.path, 'utf8'))).toMatchObject({
      name: 'PM MCP',
      schema: 'v1',
      mcpServers: [{ name: 'pm-server' }],
    });
    const removed = await unconfigureClient('continue', options);
    expect(removed.removed).toBe(true);
    await expect(fs.stat(result.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

const codexWithComments = `# Codex settings, kept by hand
model = "o3"  # the model I like

[mcp_servers.other]
command = "npx"
args = ["-y", "other-server"]   # keep this comment

# profiles below
[profiles.fast]
model = "gpt-5"
`;

const gooseWithComments = `# goose, configured by hand
GOOSE_PROVIDER: openai # provider
extensions:
  developer:
    enabled: true # keep me
    type: builtin
    name: developer
    timeout: 300
# trailing comment
`;

describe('TOML and YAML edits keep what is not ours', () => {
  it('Codex: comments and other tables stay byte for byte; unconfigure restores the file', async () => {
    const file = clientConfigPath('codex', temp.options);
    await writeFileIn(file, codexWithComments);
    const target = proxy();
    await configureClient('codex', target, temp.options);
    const written = await fs.readFile(file, 'utf8');
    expect(written.startsWith(codexWithComments)).toBe(true);
    expect(parseToml(written)).toMatchObject({
      model: 'o3',
      mcp_servers: { other: { command: 'npx' }, 'pm-server': { url: proxyUrl } },
    });

    // A new port changes only our url, in place.
    await configureClient(
      'codex',
      { ...target, proxyUrl: 'http://127.0.0.1:9999/mcp' },
      temp.options,
    );
    const moved = await fs.readFile(file, 'utf8');
    expect(moved).toBe(written.replace(proxyUrl, 'http://127.0.0.1:9999/mcp'));

    const removed = await unconfigureClient('codex', temp.options);
    expect(removed.removed).toBe(true);
    expect(await fs.readFile(file, 'utf8')).toBe(codexWithComments);
  });

  it('Codex: an inline mcp_servers table is edited inside, still valid TOML', async () => {
    const file = clientConfigPath('codex', temp.options);
    await writeFileIn(file, 'mcp_servers = { other = { command = "x" } } # inline\n');
    await configureClient('codex', proxy(), temp.options);
    const parsed = parseToml(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      mcp_servers: { other: { command: 'x' }, 'pm-server': { url: proxyUrl } },
    });
    expect(await fs.readFile(file, 'utf8')).toContain('# inline');
  });

  it('Goose: every comment and the other extension stay; unconfigure removes only ours', async () => {
    const file = clientConfigPath('goose', temp.options);
    await writeFileIn(file, gooseWithComments);
    await configureClient('goose', proxy(), temp.options);
    const written = await fs.readFile(file, 'utf8');
    for (const comment of [
      '# goose, configured by hand',
      '# provider',
      '# keep me',
      '# trailing comment',
    ]) {
      expect(written).toContain(comment);
    }
    expect(parseYaml(written)).toMatchObject({
      GOOSE_PROVIDER: 'openai',
      extensions: { developer: { type: 'builtin' }, 'pm-server': { uri: proxyUrl } },
    });
    await unconfigureClient('goose', temp.options);
    const after = await fs.readFile(file, 'utf8');
    expect(parseYaml(after)).toEqual(parseYaml(gooseWithComments));
    for (const comment of ['# goose, configured by hand', '# keep me', '# trailing comment']) {
      expect(after).toContain(comment);
    }
  });

  it('Continue: other list items and comments stay; unconfigure removes only our item', async () => {
    const file = clientConfigPath('continue', temp.options);
    const original = `name: My Config # mine
version: 1.0.0
schema: v1
mcpServers:
  - name: other # keep
    command: other-server
`;
    await writeFileIn(file, original);
    await configureClient('continue', proxy(), temp.options);
    const written = await fs.readFile(file, 'utf8');
    expect(written).toContain('# keep');
    expect(parseYaml(written)).toMatchObject({
      name: 'My Config',
      mcpServers: [{ name: 'other' }, { name: 'pm-server', command: bridge.bridgeCommand }],
    });
    await unconfigureClient('continue', temp.options);
    expect(await fs.readFile(file, 'utf8')).toBe(original);
  });
});

describe('files that do not parse are refused and left byte-identical', () => {
  it.each([
    ['codex', '[mcp_servers.other\ncommand = "x"\n', /not valid TOML: .*line \d+, column \d+/],
    ['goose', 'extensions:\n  a: [1,\n b: : x\n', /not valid YAML: .*line \d+, column \d+/],
    ['zed', '{ "context_servers": { ', /not valid JSON/],
    ['continue', 'mcpServers: {not: a list}\n', /"mcpServers" is not a list/],
  ] as const)('%s', async (client, text, message) => {
    const file = clientConfigPath(client, temp.options);
    await writeFileIn(file, text);
    const before = await fs.readFile(file);
    const error = await desktopErrorFrom(() => configureClient(client, proxy(), temp.options));
    expect(error.code).toBe('config_unparseable');
    expect(error.message).toMatch(message);
    const unconfigure = await desktopErrorFrom(() => unconfigureClient(client, temp.options));
    expect(unconfigure.code).toBe('config_unparseable');
    expect((await fs.readFile(file)).equals(before)).toBe(true);
    await expect(fs.stat(file + backupSuffix)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await inspectClient(client, proxy(), temp.options)).state).toBe('unparseable');
  });
});

describe('symlinked configs', () => {
  it.each(['codex', 'goose', 'gemini-cli'] as const)(
    '%s: the link stays, its target is edited',
    async (client) => {
      const file = clientConfigPath(client, temp.options);
      const dotfiles = path.join(temp.home, 'dotfiles', path.basename(file));
      await writeFileIn(dotfiles, '');
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.symlink(dotfiles, file);
      const result = await configureClient(client, proxy(), temp.options);
      expect(result.realPath).toBe(await fs.realpath(dotfiles));
      expect((await fs.lstat(file)).isSymbolicLink()).toBe(true);
      expect(await fs.readFile(dotfiles, 'utf8')).toContain(proxyUrl);
    },
  );
});

describe('drift and repair', () => {
  it('Codex: a changed url is reported (without the token) and configure repairs it', async () => {
    const target = proxy();
    const result = await configureClient('codex', target, temp.options);
    const text = await fs.readFile(result.path, 'utf8');
    await fs.writeFile(result.path, text.replace(proxyUrl, 'http://127.0.0.1:1/mcp'));
    const drifted = await inspectClient('codex', target, temp.options);
    expect(drifted.state).toBe('changed');
    expect(drifted.detail).toMatch(/"url" is "http:\/\/127\.0\.0\.1:1\/mcp"/);
    expect(drifted.detail).not.toContain(target.localToken);
    await configureClient('codex', target, temp.options);
    expect((await inspectClient('codex', target, temp.options)).state).toBe('current');
  });

  it('Goose: a removed header is reported', async () => {
    const target = proxy();
    const result = await configureClient('goose', target, temp.options);
    const doc = parseYaml(await fs.readFile(result.path, 'utf8')) as {
      extensions: Record<string, { headers: Record<string, string> }>;
    };
    doc.extensions['pm-server'] = { ...doc.extensions['pm-server'], headers: {} };
    await fs.writeFile(result.path, JSON.stringify(doc));
    const drifted = await inspectClient('goose', target, temp.options);
    expect(drifted.state).toBe('changed');
    expect(drifted.detail).toMatch(/Authorization header is missing/);
  });
});

describe('no MCP key survives in a backup (issue 10, item 7)', () => {
  it('proxy mode over a direct key: the backup holds a marker instead, and the key is reported', async () => {
    const apiKey = newApiKey();
    const direct: ClientTarget = {
      mode: 'direct',
      serverUrl: 'https://pm.example.com/mcp',
      apiKey,
    };
    const first = await configureClient('cursor', direct, temp.options);
    expect(first.exposedKeyPrefixes).toEqual([]);

    const result = await configureClient('cursor', proxy(), temp.options);
    expect(result.exposedKeyPrefixes).toEqual([apiKey.slice(0, 12)]);
    const file = await fs.readFile(result.path, 'utf8');
    expect(file).not.toContain('mcp_');
    // The first change backed up the file as it was; a later change leaves that backup alone.
    const backupPath = result.path + backupSuffix;
    expect(await fs.readFile(backupPath, 'utf8')).not.toMatch(/mcp_[0-9A-Za-z]/);
  });

  it('a direct key in the original file never reaches the backup', async () => {
    const apiKey = newApiKey();
    const file = clientConfigPath('codex', temp.options);
    await writeFileIn(
      file,
      `[mcp_servers.pm-server]\nurl = "https://pm.example.com/mcp"\nhttp_headers = { "X-MCP-API-Key" = "${apiKey}" }\n`,
    );
    const result = await configureClient('codex', proxy(), temp.options);
    expect(result.exposedKeyPrefixes).toEqual([apiKey.slice(0, 12)]);
    const backup = await fs.readFile(file + backupSuffix, 'utf8');
    expect(backup).not.toContain(apiKey);
    expect(backup).toContain(removedKeyMarker);
    expect(parseToml(backup)).toMatchObject({
      mcp_servers: { 'pm-server': { http_headers: { 'X-MCP-API-Key': removedKeyMarker } } },
    });
    expect(await fs.readFile(file, 'utf8')).not.toContain(apiKey);
  });

  it('an older backup that still holds a key is rewritten without it, and the key reported', async () => {
    const apiKey = newApiKey();
    const file = clientConfigPath('cursor', temp.options);
    await writeFileIn(file, '{}\n');
    await writeFileIn(
      file + backupSuffix,
      `{ "mcpServers": { "pm-server": { "headers": { "X-MCP-API-Key": "${apiKey}" } } } }\n`,
    );
    const result = await configureClient('cursor', proxy(), temp.options);
    expect(result.exposedKeyPrefixes).toEqual([apiKey.slice(0, 12)]);
    const backup = await fs.readFile(file + backupSuffix, 'utf8');
    expect(backup).not.toContain(apiKey);
    expect(JSON.parse(backup)).toEqual({
      mcpServers: { 'pm-server': { headers: { 'X-MCP-API-Key': removedKeyMarker } } },
    });
    expect(await modeOf(file + backupSuffix)).toBe(0o600);
  });

  it('a key still used in the file (direct mode again) is not reported, yet kept out of the backup', async () => {
    const apiKey = newApiKey();
    const direct: ClientTarget = {
      mode: 'direct',
      serverUrl: 'https://pm.example.com/mcp',
      apiKey,
    };
    const file = clientConfigPath('gemini-cli', temp.options);
    await writeFileIn(
      file,
      JSON.stringify({
        mcpServers: {
          'pm-server': { httpUrl: 'https://old/mcp', headers: { 'X-MCP-API-Key': apiKey } },
        },
      }),
    );
    const result = await configureClient('gemini-cli', direct, temp.options);
    expect(result.exposedKeyPrefixes).toEqual([]);
    expect(await fs.readFile(file, 'utf8')).toContain(apiKey);
    expect(await fs.readFile(file + backupSuffix, 'utf8')).not.toContain(apiKey);
  });

  it('unconfigure of a direct entry reports its key', async () => {
    const apiKey = newApiKey();
    await configureClient(
      'opencode',
      { mode: 'direct', serverUrl: 'https://pm.example.com/mcp', apiKey },
      temp.options,
    );
    const removed = await unconfigureClient('opencode', temp.options);
    expect(removed.exposedKeyPrefixes).toEqual([apiKey.slice(0, 12)]);
  });
});

describe('installed or not', () => {
  it('a client counts as installed by its folder or by its command on PATH', async () => {
    const bin = path.join(temp.home, 'bin');
    const environment: ClientEnvironment = {
      ...temp.environment,
      env: { ...temp.environment.env, PATH: bin },
    };
    expect(await isClientInstalled('gemini-cli', environment)).toBe(false);
    expect(await isClientInstalled('codex', environment)).toBe(false);
    await fs.mkdir(path.join(temp.home, '.gemini'), { recursive: true });
    await writeFileIn(path.join(bin, 'codex'), '#!/bin/sh\n');
    expect(await isClientInstalled('gemini-cli', environment)).toBe(true);
    expect(await isClientInstalled('codex', environment)).toBe(true);
    const listed = await detectInstalledClients(environment);
    expect(
      listed
        .slice(0, 2)
        .map((c) => c.client)
        .sort(),
    ).toEqual(['codex', 'gemini-cli']);
    expect(listed.slice(2).every((c) => !c.installed)).toBe(true);
  });
});
