import { stringify as stringifyYaml } from 'yaml';
import type { JsonObject, JsonValue } from './jsonc-edit.js';
import { detectFormatting, isJsonObject, parseJsoncDocument, setJsoncValue } from './jsonc-edit.js';
import { parseTomlDocument, setTomlTable, tomlDocumentText } from './toml-edit.js';
import { parseYamlDocument, setYamlMapEntry, setYamlNamedListItem } from './yaml-edit.js';

/**
 * One interface over the three file formats clients use. Every edit touches only our entry; how
 * much of the rest stays byte for byte depends on the library: JSONC and TOML everything, YAML
 * everything but the spacing before inline comments (see yaml-edit.ts).
 */

export type ConfigFormat = 'json' | 'yaml' | 'toml';

export const formatNames: Readonly<Record<ConfigFormat, string>> = {
  json: 'JSON',
  yaml: 'YAML',
  toml: 'TOML',
};

/**
 * Where our entry lives: `map` — `section.<name>` (most clients); `named-list` — the item with
 * `name: <name>` in the list at `section` (Continue).
 */
export interface EntrySlot {
  section: readonly string[];
  kind: 'map' | 'named-list';
}

export type DocumentParseResult = { ok: true; root: JsonObject } | { ok: false; problem: string };

export function parseConfigDocument(format: ConfigFormat, text: string): DocumentParseResult {
  switch (format) {
    case 'json':
      return parseJsoncDocument(text);
    case 'yaml':
      return parseYamlDocument(text);
    case 'toml':
      return parseTomlDocument(text);
  }
}

/** The value at `section`, or a problem when some part of the path is not what we need. */
export function sectionValue(
  root: JsonObject,
  slot: EntrySlot,
): { ok: true; value: JsonValue | undefined } | { ok: false; problem: string } {
  let current: JsonValue | undefined = root;
  for (const [depth, key] of slot.section.entries()) {
    if (current === undefined) break;
    if (!isJsonObject(current)) {
      return { ok: false, problem: `"${slot.section.slice(0, depth).join('.')}" is not an object` };
    }
    current = current[key];
  }
  const name = slot.section.join('.');
  if (current === undefined) return { ok: true, value: undefined };
  if (slot.kind === 'map' && !isJsonObject(current)) {
    return { ok: false, problem: `"${name}" is not an object` };
  }
  if (slot.kind === 'named-list' && !Array.isArray(current)) {
    return { ok: false, problem: `"${name}" is not a list` };
  }
  return { ok: true, value: current };
}

/** Our entry in the section, or undefined. */
export function entryIn(
  section: JsonValue | undefined,
  slot: EntrySlot,
  name: string,
): JsonValue | undefined {
  if (section === undefined) return undefined;
  if (slot.kind === 'map') return isJsonObject(section) ? section[name] : undefined;
  if (!Array.isArray(section)) return undefined;
  return section.find((item) => isJsonObject(item) && item.name === name);
}

/** Sets (or with `value` undefined removes) our entry; everything else in the text stays. */
export function setEntryInText(
  format: ConfigFormat,
  text: string,
  slot: EntrySlot,
  name: string,
  value: JsonObject | undefined,
): string {
  if (format === 'yaml') {
    return slot.kind === 'map'
      ? setYamlMapEntry(text, [...slot.section, name], value)
      : setYamlNamedListItem(text, slot.section, name, value);
  }
  if (slot.kind !== 'map') throw new Error(`named lists are edited in YAML only, not ${format}`);
  if (format === 'toml') return setTomlTable(text, slot.section, name, value);
  return setJsoncValue(text, [...slot.section, name], value, detectFormatting(text));
}

/** The text of a new file holding only `fields`. */
export function newDocumentText(format: ConfigFormat, fields: JsonObject): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(fields, null, 2)}\n`;
    case 'yaml':
      return stringifyYaml(fields, { lineWidth: 0 });
    case 'toml':
      return tomlDocumentText(fields);
  }
}
