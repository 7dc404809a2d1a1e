import { applyEdits, format, modify, parse, printParseErrorCode } from 'jsonc-parser';
import type { FormattingOptions, JSONPath, ParseError } from 'jsonc-parser';

/**
 * Text-level JSONC editing that keeps everything it does not touch byte for byte.
 *
 * `jsonc-parser`'s `modify` with `formattingOptions` re-formats every whole line an edit touches,
 * so inserting after `"other": { "url": "a" }` would also re-indent that neighbour. Instead we
 * take `modify`'s minimal edit (no formatting) and run `format` over the inserted text plus the
 * whitespace gaps on either side only: the new entry is indented like the file, its neighbours
 * stay exactly as they were.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type JsoncParseResult = { ok: true; root: JsonObject } | { ok: false; problem: string };

/**
 * Parses a JSONC document (comments and trailing commas allowed, as the editors allow them).
 * A blank or comment-only document counts as an empty object: there is nothing in it to lose.
 */
export function parseJsoncDocument(text: string): JsoncParseResult {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: true,
  });
  const first = errors[0];
  if (first !== undefined) {
    const { line, column } = lineAndColumn(text, first.offset);
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem(s))` : '';
    return {
      ok: false,
      problem: `${describeParseError(first)} at line ${line}, column ${column}${more}`,
    };
  }
  if (value === undefined) return { ok: true, root: {} };
  if (!isJsonObject(value)) {
    return { ok: false, problem: 'the top level is not a JSON object' };
  }
  return { ok: true, root: value };
}

function describeParseError(error: ParseError): string {
  // "CommaExpected" → "comma expected"
  return printParseErrorCode(error.error)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

/** 1-based line and column of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The file's own indentation and line ending, so an inserted entry looks like its neighbours.
 * `null` for a document written on one line: the entry is then inserted compact too.
 */
export function detectFormatting(text: string): FormattingOptions | null {
  const trimmed = text.trim();
  if (trimmed !== '' && !trimmed.includes('\n')) return null;
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indented = /^([ \t]+)["'{[/]/m.exec(text);
  const indent = indented?.[1];
  if (indent?.startsWith('\t')) return { insertSpaces: false, tabSize: 1, eol };
  const tabSize = indent !== undefined && indent.length <= 8 ? indent.length : 2;
  return { insertSpaces: true, tabSize, eol };
}

function isWhitespace(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r';
}

/**
 * Sets (or, with `value` undefined, removes) the value at `path`, changing nothing else.
 * An array index of -1 appends.
 */
export function setJsoncValue(
  text: string,
  path: JSONPath,
  value: JsonValue | undefined,
  formatting: FormattingOptions | null,
): string {
  const edits = modify(text, path, value, {});
  let result = text;
  // Apply from the end so earlier offsets stay valid (modify returns at most one edit today).
  for (const edit of [...edits].sort((a, b) => b.offset - a.offset)) {
    result = applyEdits(result, [edit]);
    if (formatting === null) continue;
    // The inserted text plus the whitespace on each side and one character of each neighbour:
    // `format` only changes gaps that overlap this range, so the neighbours' insides stay as-is.
    let start = edit.offset;
    while (start > 0 && isWhitespace(result[start - 1])) start--;
    if (start > 0) start--;
    let end = edit.offset + edit.content.length;
    while (end < result.length && isWhitespace(result[end])) end++;
    if (end < result.length) end++;
    result = applyEdits(result, format(result, { offset: start, length: end - start }, formatting));
  }
  return result;
}
