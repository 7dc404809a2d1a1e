import { promises as fs } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { stringify as stringifyToml } from '@decimalturn/toml-patch';
import { stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientConfigPath,
  configureClient,
  type ClientOptions,
  type ClientTarget,
} from '../../main/clients/index.js';
import { parseConfigDocument, type ConfigFormat } from '../../main/clients/document.js';
import { isDesktopError } from '../../main/errors.js';
import { clientIds, type ClientId } from '../../preload/contract.js';
import { makeTempHome, newLocalToken, type TempHome } from '../clients/helpers.js';
import { fuzzParameters, nastyString } from './support.js';

/**
 * Arbitrary and garbled contents of every client's config file: configure either succeeds,
 * keeping every other entry and our marker comments, or refuses with a DesktopError leaving the
 * file byte-identical (and no stray temporary file); configuring twice gives the same bytes.
 */

// JetBrains has no file (configure returns text to paste).
const fileClients = clientIds.filter((client) => client !== 'jetbrains');
const target: ClientTarget = {
  mode: 'proxy',
  proxyUrl: 'http://127.0.0.1:8765/mcp',
  localToken: newLocalToken(),
  bridgeCommand: '/usr/bin/node',
  bridgeArgs: ['/opt/pm-mcp/bin/pm-mcp.js', 'bridge'],
};

const formatOf = (file: string): ConfigFormat =>
  file.endsWith('.toml') ? 'toml' : file.endsWith('.yaml') ? 'yaml' : 'json';

const entryName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom('github', 'pm-server', 'local-db', '', ' pm-server'),
);
const otherEntries = fc.dictionary(entryName, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
/** The sections clients keep their entries in, with other people's entries in them. */
const documentValue = fc.record(
  {
    mcpServers: fc.oneof(
      otherEntries,
      fc.array(fc.record({ name: entryName, command: fc.string() }), { maxLength: 3 }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    servers: otherEntries,
    context_servers: otherEntries,
    mcp: fc.oneof(otherEntries, fc.jsonValue({ maxDepth: 1 })),
    mcp_servers: otherEntries,
    extensions: otherEntries,
    inputs: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }),
    other: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

/** Whole-line comments we plant; a successful configure must keep every one of them. */
const markerComment = (format: ConfigFormat, index: number): string =>
  format === 'json' ? `// keep-${index}` : `# keep-${index}`;

function serialise(format: ConfigFormat, value: Record<string, unknown>): string | undefined {
  try {
    if (format === 'json') return JSON.stringify(value, null, 2);
    if (format === 'yaml') return stringifyYaml(value);
    return stringifyToml(value);
  } catch {
    return undefined; // e.g. null has no TOML form
  }
}

/** Plants marker comments before some lines (never inside a multi-line string: only where a
 * line starts a key or closes a block). */
function withMarkers(format: ConfigFormat, text: string): string {
  let index = 0;
  return text
    .split('\n')
    .flatMap((line) =>
      /^\s*("[^"]*"|[A-Za-z_]+|\[[^\]]*\])\s*[:=[]?/.test(line) && index < 6
        ? [
            `${' '.repeat(line.length - line.trimStart().length)}${markerComment(format, ++index)}`,
            line,
          ]
        : [line],
    )
    .join('\n');
}

const edit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 8 }),
  insert: fc.oneof(
    fc.constantFrom(
      '',
      '{',
      '}',
      '[',
      ']',
      '"',
      "'",
      ',',
      ':',
      '=',
      '\n',
      '#',
      '//',
      '/*',
      '\\',
      '\u0000',
      '\ufeff',
      '  - ',
    ),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
  ),
});

function garble(text: string, edits: { at: number; remove: number; insert: string }[]): string {
  let result = text;
  for (const { at, remove, insert } of edits) {
    const position = result.length === 0 ? 0 : at % (result.length + 1);
    result = result.slice(0, position) + insert + result.slice(position + remove);
  }
  return result;
}

const fileContents = (format: ConfigFormat): fc.Arbitrary<Buffer> => {
  const valid = documentValue
    .map((value) => serialise(format, value))
    .filter((text): text is string => text !== undefined)
    .map((text) => withMarkers(format, text));
  return fc.oneof(
    { weight: 3, arbitrary: valid.map((text) => Buffer.from(text)) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 }))
        .map(([text, edits]) => Buffer.from(garble(text, edits))),
    },
    { weight: 1, arbitrary: nastyString(400).map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  );
};

/** Drops our entry wherever it is (a map key, or a list item named `pm-server`). */
function withoutOurEntry(value: unknown): unknown {
  if (Array.isArray(value))
    return value
      .filter(
        (item) =>
          !(
            item !== null &&
            typeof item === 'object' &&
            (item as { name?: unknown }).name === 'pm-server'
          ),
      )
      .map(withoutOurEntry);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== 'pm-server')
        .map(([key, item]) => [key, withoutOurEntry(item)]),
    );
  }
  return value;
}

/** Every leaf of `before` is still in `after` (lists: every item of `before` is in `after`). */
function keptIn(before: unknown, after: unknown, where: string): string | undefined {
  if (Array.isArray(before)) {
    if (!Array.isArray(after)) return `${where} is no longer a list`;
    for (const item of before) {
      const json = JSON.stringify(item);
      if (!after.some((candidate) => JSON.stringify(candidate) === json))
        return `${where} lost the item ${json}`;
    }
    return undefined;
  }
  if (before !== null && typeof before === 'object') {
    if (after === null || typeof after !== 'object' || Array.isArray(after))
      return `${where} is no longer an object`;
    for (const [key, item] of Object.entries(before)) {
      if (!Object.hasOwn(after, key)) return `${where}.${key} was removed`;
      const problem = keptIn(item, (after as Record<string, unknown>)[key], `${where}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return Object.is(before, after) ? undefined : `${where} changed`;
}

describe('client config files under arbitrary contents', () => {
  let temp: TempHome;
  let runs = 0;

  beforeAll(async () => {
    temp = await makeTempHome();
  });
  afterAll(async () => {
    await temp.cleanup();
  });

  it('configure succeeds keeping every other entry and comment, or refuses leaving the file byte-identical; twice = same bytes', async () => {
    const property = fc.asyncProperty(
      fc.constantFrom(...fileClients).chain((client) =>
        fc.record({
          client: fc.constant<ClientId>(client),
          project: fc.boolean(),
          contents: fc.constant(null).chain(() => {
            const probe = clientConfigPath(client, temp.options);
            return fileContents(formatOf(probe));
          }),
        }),
      ),
      async ({ client, project, contents }) => {
        // Every run in its own folders: backups of one run must not meet the next.
        const run = path.join(temp.home, `run-${++runs}`);
        const options: ClientOptions = {
          environment: {
            ...temp.environment,
            homeDir: run,
            env: { XDG_CONFIG_HOME: path.join(run, '.config'), APPDATA: path.join(run, 'AppData') },
          },
          ...(project ? { projectDir: path.join(run, 'project') } : {}),
        };
        let file: string;
        try {
          file = clientConfigPath(client, options);
        } catch (error) {
          // A client without project files says so.
          expect(isDesktopError(error)).toBe(true);
          return;
        }
        const format = formatOf(file);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, contents);
        const folderBefore = (await fs.readdir(path.dirname(file))).sort();

        let configured = true;
        try {
          await configureClient(client, target, options);
        } catch (error) {
          if (!isDesktopError(error)) throw error;
          expect(error.message.length).toBeGreaterThan(10);
          configured = false;
        }
        const after = await fs.readFile(file);
        const folderAfter = (await fs.readdir(path.dirname(file))).sort();
        if (!configured) {
          expect(after.equals(contents)).toBe(true);
          expect(folderAfter).toEqual(folderBefore);
          return;
        }
        // Only our backup may appear beside the file: no temporary file left behind.
        for (const name of folderAfter.filter((item) => !folderBefore.includes(item)))
          expect(name).toMatch(/\.pm-mcp\.bak$/);

        const beforeText = contents.toString('utf8');
        const afterText = after.toString('utf8');
        const parsedBefore = parseConfigDocument(format, beforeText);
        const parsedAfter = parseConfigDocument(format, afterText);
        expect(parsedAfter.ok).toBe(true);
        if (parsedBefore.ok && parsedAfter.ok) {
          const problem = keptIn(withoutOurEntry(parsedBefore.root), parsedAfter.root, 'the file');
          expect(problem).toBeUndefined();
        }
        // Comments inside an entry of ours that was replaced may go with it: markers are checked
        // up to the first mention of our entry.
        const ourEntryAt = beforeText.indexOf('pm-server');
        const outsideOurEntry = ourEntryAt === -1 ? beforeText : beforeText.slice(0, ourEntryAt);
        for (const line of outsideOurEntry.split('\n')) {
          if (/^\s*(\/\/|#) keep-\d+$/.test(line) && parsedBefore.ok)
            expect(afterText).toContain(line.trim());
        }
        // Idempotent: a second configure writes nothing new.
        await configureClient(client, target, options);
        expect((await fs.readFile(file)).equals(after)).toBe(true);
      },
    );
    await fc.assert(property, fuzzParameters(300, 25_000));
  }, 60_000);
});
