import { isMap, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { JsonObject } from './jsonc-edit.js';
import { isJsonObject } from './jsonc-edit.js';

/**
 * YAML editing through `yaml`'s Document API: the file is parsed into a document that keeps its
 * comments, key order, quoting and blank lines; only our node is set or removed, and the document
 * is printed back. Whitespace before an inline comment may be normalised to one space (the
 * library's printer); every comment and every other entry stays.
 */

export type YamlParseResult = { ok: true; root: JsonObject } | { ok: false; problem: string };

function documentOf(text: string): Document {
  return parseDocument(text, { uniqueKeys: true, prettyErrors: true });
}

/** Parses a YAML document; an empty document counts as an empty mapping. */
export function parseYamlDocument(text: string): YamlParseResult {
  const doc = documentOf(text);
  const first = doc.errors[0];
  if (first !== undefined) {
    const position = first.linePos?.[0];
    const where = position ? ` at line ${position.line}, column ${position.col}` : '';
    const message = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? '';
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more problem(s))` : '';
    return { ok: false, problem: `${message}${where}${more}` };
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return { ok: true, root: {} };
  if (!isJsonObject(value)) return { ok: false, problem: 'the top level is not a mapping' };
  return { ok: true, root: value };
}

/**
 * The file's own indentation (the smallest indent of any content line; 2 when none) and whether
 * its lists are indented under their key, so what we print looks like the rest of the file.
 */
function styleOf(text: string): { indent: number; indentSeq: boolean } {
  let indent = Number.POSITIVE_INFINITY;
  for (const match of text.matchAll(/^( +)[^\s#]/gm)) {
    indent = Math.min(indent, match[1]?.length ?? indent);
  }
  const flushList = /^( *)[^\s#-][^\n]*:[ \t]*\r?\n\1- /m.test(text);
  return { indent: indent <= 8 ? indent : 2, indentSeq: !flushList };
}

function print(doc: Document, text: string): string {
  return doc.toString({ lineWidth: 0, ...styleOf(text) });
}

/** Sets (or with `value` undefined removes) the mapping entry at `path`. */
export function setYamlMapEntry(
  text: string,
  path: readonly string[],
  value: JsonObject | undefined,
): string {
  const doc = documentOf(text);
  if (value === undefined) {
    if (!doc.hasIn(path)) return text;
    doc.deleteIn(path);
  } else {
    doc.setIn(path, doc.createNode(value));
  }
  return print(doc, text);
}

/**
 * Sets (or removes) the item named `name` in the list at `section` (Continue's `mcpServers`
 * list, whose items carry a `name`); a new item is appended, a missing list created.
 */
export function setYamlNamedListItem(
  text: string,
  section: readonly string[],
  name: string,
  value: JsonObject | undefined,
): string {
  const doc = documentOf(text);
  const list: unknown = doc.getIn(section, true);
  const index = isSeq(list)
    ? list.items.findIndex((item) => isMap(item) && item.get('name') === name)
    : -1;
  if (value === undefined) {
    if (index < 0) return text;
    doc.deleteIn([...section, index]);
  } else if (index >= 0) {
    doc.setIn([...section, index], doc.createNode(value));
  } else if (isSeq(list)) {
    doc.addIn(section, doc.createNode(value));
  } else {
    doc.setIn(section, doc.createNode([value]));
  }
  return print(doc, text);
}
