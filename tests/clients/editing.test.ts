import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyClientConfigPlan,
  backupSuffix,
  configureClient,
  planConfigureClient,
  unconfigureClient,
} from '../../main/clients/index.js';
import type { TempHome } from './helpers.js';
import {
  desktopErrorFrom,
  directTarget,
  makeTempHome,
  modeOf,
  newLocalToken,
  proxyTarget,
  readJson,
  writeFileIn,
} from './helpers.js';

let temp: TempHome;
let cursorFile: string;
beforeEach(async () => {
  temp = await makeTempHome();
  cursorFile = path.join(temp.home, '.cursor', 'mcp.json');
});
afterEach(async () => {
  await temp.cleanup();
});

const commentedCursorConfig = `{
  // servers I use every day
  "mcpServers": {
    "github": { "url": "https://api.githubcopilot.com/mcp/", "headers": { "X": "1" } }, // keep me
    /* a block comment */
    "local-db": {
      "command": "npx",
      "args": ["-y", "db-mcp"],
    },
  },
  "someOtherSetting": [1, 2, 3]
}
`;

describe('configure keeps what is not ours', () => {
  it('keeps other entries, comments, trailing commas and their formatting byte for byte', async () => {
    await writeFileIn(cursorFile, commentedCursorConfig);
    const localToken = newLocalToken();
    await configureClient('cursor', proxyTarget(8765, localToken), temp.options);
    const text = await fs.readFile(cursorFile, 'utf8');

    for (const line of commentedCursorConfig.split('\n')) {
      if (line.trim() === '},' || line.trim() === '}') continue; // closing lines may be shared
      expect(text).toContain(line);
    }
    expect(text).toContain(`"Authorization": "Bearer ${localToken}"`);
    // Removing ours again gives back exactly the original.
    await unconfigureClient('cursor', temp.options);
    expect(await fs.readFile(cursorFile, 'utf8')).toBe(commentedCursorConfig);
  });

  it('leaves a one-line neighbour and its trailing comment exactly as written', async () => {
    const original = `{
  "mcpServers": {
    "other": { "url": "https://other.example/mcp", "headers": { "X": "1" } } // mine
  }
}
`;
    await writeFileIn(cursorFile, original);
    await configureClient('cursor', proxyTarget(), temp.options);
    const text = await fs.readFile(cursorFile, 'utf8');
    expect(text).toContain(
      '\n    "other": { "url": "https://other.example/mcp", "headers": { "X": "1" } },\n    "pm-server": {\n',
    );
    expect(text).toContain('// mine');
    await unconfigureClient('cursor', temp.options);
    expect(await fs.readFile(cursorFile, 'utf8')).toBe(original);
  });

  it('indents the new entry like the file (tabs here) and keeps CRLF line endings', async () => {
    const original =
      '{\r\n\t"mcpServers": {\r\n\t\t"other": {\r\n\t\t\t"url": "https://x.example/mcp"\r\n\t\t}\r\n\t}\r\n}\r\n';
    await writeFileIn(cursorFile, original);
    await configureClient('cursor', proxyTarget(), temp.options);
    const text = await fs.readFile(cursorFile, 'utf8');
    expect(text).toContain('\r\n\t\t"pm-server": {\r\n\t\t\t"url": "http://127.0.0.1:8765/mcp",');
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    await unconfigureClient('cursor', temp.options);
    expect(await fs.readFile(cursorFile, 'utf8')).toBe(original);
  });

  it('replaces only our entry when it is already there, leaving the rest as it was', async () => {
    const before = `{
  "mcpServers": {
    "pm-server": { "url": "http://127.0.0.1:1111/mcp" },
    "after": {"url": "https://after.example/mcp"}
  }
}
`;
    await writeFileIn(cursorFile, before);
    const localToken = newLocalToken();
    await configureClient('cursor', proxyTarget(9999, localToken), temp.options);
    const text = await fs.readFile(cursorFile, 'utf8');
    expect(text).toContain('    "after": {"url": "https://after.example/mcp"}\n');
    expect(await readJson(cursorFile)).toEqual({
      mcpServers: {
        'pm-server': {
          url: 'http://127.0.0.1:9999/mcp',
          headers: { Authorization: `Bearer ${localToken}` },
        },
        after: { url: 'https://after.example/mcp' },
      },
    });
  });

  it('does not rewrite a file whose entry is already current', async () => {
    const target = proxyTarget();
    await configureClient('cursor', target, temp.options);
    const before = await fs.stat(cursorFile);
    const again = await configureClient('cursor', target, temp.options);
    expect(again.changed).toBe(false);
    expect((await fs.stat(cursorFile)).ino).toBe(before.ino);
  });

  it('keeps a UTF-8 byte order mark', async () => {
    await writeFileIn(cursorFile, '\ufeff{ "mcpServers": {} }\n');
    await configureClient('cursor', proxyTarget(), temp.options);
    const bytes = await fs.readFile(cursorFile);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});

describe('configure refuses a file it cannot parse', () => {
  it.each([
    [
      'a missing comma',
      '{\n  "mcpServers": {\n    "a": {}\n    "b": {}\n  }\n}\n',
      'line 4, column 5',
    ],
    ['an unclosed object', '{\n  "mcpServers": {\n', 'line 3, column 1'],
    ['a top-level list', '[1, 2]\n', 'not a JSON object'],
    ['mcpServers that is not an object', '{ "mcpServers": [] }', '"mcpServers" is not an object'],
  ])(
    'with %s: leaves it byte-identical and names the file and the problem',
    async (_what, text, where) => {
      await writeFileIn(cursorFile, text);
      const before = await fs.readFile(cursorFile);
      const error = await desktopErrorFrom(() =>
        configureClient('cursor', proxyTarget(), temp.options),
      );
      expect(error.code).toBe('config_unparseable');
      expect(error.exitCode).not.toBe(0);
      expect(error.message).toContain(cursorFile);
      expect(error.message).toContain(where);
      expect((await fs.readFile(cursorFile)).equals(before)).toBe(true);
      expect(await fs.readdir(path.dirname(cursorFile))).toEqual(['mcp.json']); // no backup, no temp
    },
  );

  it('unconfigure refuses it too and leaves it byte-identical', async () => {
    await writeFileIn(cursorFile, '{ "mcpServers": { "pm-server": {} ');
    const before = await fs.readFile(cursorFile);
    const error = await desktopErrorFrom(() => unconfigureClient('cursor', temp.options));
    expect(error.code).toBe('config_unparseable');
    expect((await fs.readFile(cursorFile)).equals(before)).toBe(true);
  });
});

describe('configure creates what is missing', () => {
  it('creates the missing folder and file', async () => {
    await expect(fs.stat(path.dirname(cursorFile))).rejects.toMatchObject({ code: 'ENOENT' });
    const result = await configureClient('cursor', proxyTarget(), temp.options);
    expect(result.changed).toBe(true);
    expect(result.backupPath).toBeNull();
    expect(await readJson(cursorFile)).toHaveProperty(['mcpServers', 'pm-server']);
  });

  it('fills a blank file', async () => {
    await writeFileIn(cursorFile, '\n');
    await configureClient('cursor', proxyTarget(), temp.options);
    expect(await readJson(cursorFile)).toHaveProperty(['mcpServers', 'pm-server']);
  });
});

describe('backups', () => {
  it('backs up the original before the first change, and never overwrites that backup', async () => {
    await writeFileIn(cursorFile, commentedCursorConfig);
    const first = await configureClient('cursor', proxyTarget(1111), temp.options);
    expect(first.backupPath).toBe(cursorFile + backupSuffix);
    expect(await fs.readFile(cursorFile + backupSuffix, 'utf8')).toBe(commentedCursorConfig);
    expect(await modeOf(cursorFile + backupSuffix)).toBe(0o600);

    await configureClient('cursor', proxyTarget(2222), temp.options);
    await unconfigureClient('cursor', temp.options);
    expect(await fs.readFile(cursorFile + backupSuffix, 'utf8')).toBe(commentedCursorConfig);
  });

  it('leaves no temp file behind', async () => {
    await writeFileIn(cursorFile, commentedCursorConfig);
    await configureClient('cursor', proxyTarget(), temp.options);
    expect((await fs.readdir(path.dirname(cursorFile))).sort()).toEqual([
      'mcp.json',
      'mcp.json' + backupSuffix,
    ]);
  });
});

describe('the file changes between read and write', () => {
  it('is refused with config_changed_meanwhile and the other program’s content is kept', async () => {
    await writeFileIn(cursorFile, '{ "mcpServers": {} }\n');
    const plan = await planConfigureClient('cursor', proxyTarget(), temp.options);
    const theirs = '{ "mcpServers": { "theirs": { "url": "https://theirs.example/mcp" } } }\n';
    await fs.writeFile(cursorFile, theirs);

    const error = await desktopErrorFrom(() => applyClientConfigPlan(plan));
    expect(error.code).toBe('config_changed_meanwhile');
    expect(error.message).toContain(cursorFile);
    expect(await fs.readFile(cursorFile, 'utf8')).toBe(theirs);
    expect(await fs.readdir(path.dirname(cursorFile))).toEqual(['mcp.json']);
  });

  it('is refused when a file appears that did not exist when read', async () => {
    const plan = await planConfigureClient('cursor', proxyTarget(), temp.options);
    await writeFileIn(cursorFile, '{}');
    const error = await desktopErrorFrom(() => applyClientConfigPlan(plan));
    expect(error.code).toBe('config_changed_meanwhile');
    expect(await fs.readFile(cursorFile, 'utf8')).toBe('{}');
  });
});

describe('symlinks', () => {
  it('a symlinked file stays a symlink and its target is updated', async () => {
    const dotfiles = path.join(temp.home, 'dotfiles');
    const realFile = path.join(dotfiles, 'cursor-mcp.json');
    await writeFileIn(realFile, '{ "mcpServers": { "other": { "url": "https://o.example" } } }\n');
    await fs.mkdir(path.dirname(cursorFile), { recursive: true });
    await fs.symlink(path.relative(path.dirname(cursorFile), realFile), cursorFile);

    const result = await configureClient('cursor', proxyTarget(), temp.options);
    expect(result.realPath).toBe(await fs.realpath(realFile));
    expect((await fs.lstat(cursorFile)).isSymbolicLink()).toBe(true);
    expect(await readJson(realFile)).toHaveProperty(['mcpServers', 'pm-server']);
    expect(await readJson(realFile)).toHaveProperty(['mcpServers', 'other']);
    expect(await fs.readdir(dotfiles)).toContain('cursor-mcp.json' + backupSuffix);

    await unconfigureClient('cursor', temp.options);
    expect((await fs.lstat(cursorFile)).isSymbolicLink()).toBe(true);
    expect(await readJson(realFile)).toEqual({
      mcpServers: { other: { url: 'https://o.example' } },
    });
  });

  it('a dangling symlink gets its target created, the link kept', async () => {
    const realFile = path.join(temp.home, 'dotfiles', 'mcp.json');
    await fs.mkdir(path.dirname(cursorFile), { recursive: true });
    await fs.symlink(realFile, cursorFile);
    await configureClient('cursor', proxyTarget(), temp.options);
    expect((await fs.lstat(cursorFile)).isSymbolicLink()).toBe(true);
    expect(await readJson(realFile)).toHaveProperty(['mcpServers', 'pm-server']);
  });
});

describe('file modes', () => {
  it('a file holding a token gets mode 0600, even if it was 0644', async () => {
    await writeFileIn(cursorFile, '{}\n');
    await fs.chmod(cursorFile, 0o644);
    await configureClient('cursor', proxyTarget(), temp.options);
    expect(await modeOf(cursorFile)).toBe(0o600);
  });

  it('a new file holding a token is created 0600, and a folder we create 0700', async () => {
    await configureClient('windsurf', directTarget(), temp.options);
    const file = path.join(temp.home, '.codeium', 'windsurf', 'mcp_config.json');
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(path.dirname(file))).toBe(0o700);
  });

  it('a file without a token keeps its existing mode', async () => {
    const projectDir = path.join(temp.home, 'project');
    const projectFile = path.join(projectDir, '.cursor', 'mcp.json');
    await writeFileIn(projectFile, '{}\n');
    await fs.chmod(projectFile, 0o664);
    await configureClient('cursor', proxyTarget(), { ...temp.options, projectDir });
    expect(await modeOf(projectFile)).toBe(0o664);
  });

  it('an unchanged entry in a file readable by others gets its mode fixed', async () => {
    const target = proxyTarget();
    await configureClient('cursor', target, temp.options);
    await fs.chmod(cursorFile, 0o644);
    const result = await configureClient('cursor', target, temp.options);
    expect(result.changed).toBe(true);
    expect(await modeOf(cursorFile)).toBe(0o600);
  });
});

describe('unconfigure', () => {
  it('removes only our entry', async () => {
    await writeFileIn(
      cursorFile,
      JSON.stringify({ mcpServers: { a: { url: 'https://a.example' } }, other: true }, null, 2),
    );
    await configureClient('cursor', proxyTarget(), temp.options);
    const result = await unconfigureClient('cursor', temp.options);
    expect(result.removed).toBe(true);
    expect(result.state).toBe('missing');
    expect(await readJson(cursorFile)).toEqual({
      mcpServers: { a: { url: 'https://a.example' } },
      other: true,
    });
  });

  it('reports nothing removed, and writes nothing, when our entry is not there', async () => {
    await writeFileIn(cursorFile, '{ "mcpServers": { "a": {} } }');
    const before = await fs.stat(cursorFile);
    const result = await unconfigureClient('cursor', temp.options);
    expect(result.removed).toBe(false);
    expect(result.changed).toBe(false);
    expect((await fs.stat(cursorFile)).mtimeMs).toBe(before.mtimeMs);
    expect(await fs.readdir(path.dirname(cursorFile))).toEqual(['mcp.json']);
  });

  it('does not create a file that does not exist', async () => {
    const result = await unconfigureClient('cursor', temp.options);
    expect(result.removed).toBe(false);
    await expect(fs.stat(cursorFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('in a VS Code workspace removes our entry and our input, and nothing of theirs', async () => {
    const projectDir = path.join(temp.home, 'project');
    const file = path.join(projectDir, '.vscode', 'mcp.json');
    const original = `{
  "inputs": [
    { "type": "promptString", "id": "their-token", "password": true }
  ],
  "servers": {
    "theirs": { "type": "stdio", "command": "their-server" }
  }
}
`;
    await writeFileIn(file, original);
    const options = { ...temp.options, projectDir };
    await configureClient('vscode', proxyTarget(), options);
    const configured = (await readJson(file)) as { inputs: { id: string }[] };
    expect(configured.inputs.map((input) => input.id)).toEqual([
      'their-token',
      'pm-mcp-local-token',
    ]);

    // Switching to direct mode swaps our input; theirs stays.
    await configureClient('vscode', directTarget(), options);
    const direct = (await readJson(file)) as { inputs: { id: string }[] };
    expect(direct.inputs.map((input) => input.id)).toEqual(['their-token', 'pm-mcp-api-key']);

    await unconfigureClient('vscode', options);
    expect(await fs.readFile(file, 'utf8')).toBe(original);
  });
});
