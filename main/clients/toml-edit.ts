import { parse, patch, stringify } from '@decimalturn/toml-patch';
import type { JsonObject, JsonValue } from './jsonc-edit.js';
import { isJsonObject } from './jsonc-edit.js';

/**
 * TOML editing with `@decimalturn/toml-patch`, which re-applies a changed object to the original
 * text and rewrites only what changed: comments, blank lines and every other table stay byte for
 * byte. A new entry is appended as its own `[a.b]` table at the end of the file (the library
 * would otherwise add it as a dotted key on the first line); the result is parsed again and must
 * equal what we meant, else the library's own placement is used.
 */

export type TomlParseResult = { ok: true; root: JsonObject } | { ok: false; problem: string };

export function parseTomlDocument(text: string): TomlParseResult {
  try {
    // Plain objects (the library's have no prototype), so comparisons elsewhere see equal values.
    const value: unknown = plain(parse(text));
    if (!isJsonObject(value)) return { ok: false, problem: 'the top level is not a table' };
    return { ok: true, root: value };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // "Error parsing TOML (3, 7):\n<excerpt>…\nUnrecognized token type" → line and column, reason.
    const position = /\((\d+), (\d+)\)/.exec(message);
    const lines = message.split('\n').filter((line) => line.trim() !== '');
    const reason = lines.length > 1 ? (lines[lines.length - 1]?.trim() ?? '') : 'syntax error';
    const where = position ? ` at line ${position[1]}, column ${position[2]}` : '';
    return { ok: false, problem: `${reason.replace(/\.$/, '')}${where}` };
  }
}

/** A copy with ordinary prototypes; dates and other values are kept as they are. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const bareKey = /^[A-Za-z0-9_-]+$/;

function tomlKey(key: string): string {
  return bareKey.test(key) ? key : JSON.stringify(key);
}

/** One value in TOML syntax; JSON's string escapes are all valid in TOML basic strings. */
function tomlValue(value: JsonValue): string {
  if (value === null) throw new Error('TOML has no null');
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  const pairs = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
  return pairs.length === 0 ? '{}' : `{ ${pairs.join(', ')} }`;
}

function tableAt(root: JsonObject, path: readonly string[]): JsonObject | undefined {
  let current: JsonValue | undefined = root;
  for (const key of path) {
    if (!isJsonObject(current)) return undefined;
    current = current[key];
  }
  return isJsonObject(current) ? current : undefined;
}

/** Sets or deletes `section.name` in `root` itself (a freshly parsed root, so its dates stay as parsed). */
function assign(
  root: JsonObject,
  section: readonly string[],
  name: string,
  value: JsonObject | undefined,
): JsonObject {
  const copy = root;
  let table = copy;
  for (const key of section) {
    const next = table[key];
    if (!isJsonObject(next)) {
      if (value === undefined) return copy;
      table[key] = {};
    }
    table = table[key] as JsonObject;
  }
  if (value === undefined) Reflect.deleteProperty(table, name);
  else table[name] = value;
  return copy;
}

/** `root` without `section.name`, and without the tables of `section` that are left empty. */
function withoutEntry(root: JsonObject, section: readonly string[], name: string): JsonObject {
  assign(root, section, name, undefined);
  for (let depth = section.length; depth > 0; depth--) {
    const parent = depth === 1 ? root : tableAt(root, section.slice(0, depth - 1));
    const key = section[depth - 1];
    if (parent === undefined || key === undefined) continue;
    const table = parent[key];
    if (isJsonObject(table) && Object.keys(table).length === 0) Reflect.deleteProperty(parent, key);
  }
  return root;
}

/** Sets (or with `value` undefined removes) `section.name` as a table. */
export function setTomlTable(
  text: string,
  section: readonly string[],
  name: string,
  value: JsonObject | undefined,
): string {
  const parsed = parseTomlDocument(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  const isNew = tableAt(parsed.root, section)?.[name] === undefined;
  const wanted = assign(parsed.root, section, name, value);
  if (value !== undefined && isNew) {
    const eol = text.includes('\r\n') ? '\r\n' : '\n';
    const header = `[${[...section, name].map(tomlKey).join('.')}]`;
    const body = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
    const lead = text === '' ? '' : text.endsWith(eol) ? eol : eol + eol;
    const appended = text + lead + [header, ...body].join(eol) + eol;
    // Valid only if the file parses and means exactly what we meant (e.g. not when the section
    // is an inline table, which cannot be extended by a later header).
    const check = parseTomlDocument(appended);
    const before = parseTomlDocument(text);
    if (check.ok && before.ok) {
      const entry = tableAt(check.root, section)?.[name];
      const rest = JSON.stringify(withoutEntry(check.root, section, name));
      const restBefore = JSON.stringify(withoutEntry(before.root, section, name));
      // toml-patch's tables have no prototype, so compare as JSON.
      if (JSON.stringify(entry) === JSON.stringify(value) && rest === restBefore) return appended;
    }
  }
  return patch(text, wanted);
}

/** A new TOML document holding `fields`. */
export function tomlDocumentText(fields: JsonObject): string {
  return stringify(fields);
}
