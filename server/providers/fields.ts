/**
 * What every provider does with a `fields` request: split it into the standard (normalised)
 * fields and the provider's own fields named by the caller, and turn a provider field's raw value
 * into something readable (a name instead of a `{value, id, self}` object).
 */
import { ProviderValidationError } from './errors.js';
import { maxRequestedFields, standardFieldOf, type StandardIssueField } from './types.js';

export interface RequestedFields {
  standard: StandardIssueField[];
  /** Provider field names or ids as the caller wrote them, de-duplicated (case-insensitive). */
  extra: string[];
}

/** Undefined when no selection was asked for (the full result). */
export function splitRequestedFields(
  fields: readonly string[] | undefined,
): RequestedFields | undefined {
  if (fields === undefined) return undefined;
  const names = fields.map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) return undefined;
  if (names.length > maxRequestedFields) {
    throw new ProviderValidationError(
      `Ask for at most ${maxRequestedFields} fields at once (got ${names.length}).`,
      { fieldErrors: { fields: 'too many' } },
    );
  }
  const standard = new Set<StandardIssueField>();
  const extra = new Map<string, string>();
  for (const name of names) {
    const known = standardFieldOf(name);
    if (known) standard.add(known);
    else if (!extra.has(name.toLowerCase())) extra.set(name.toLowerCase(), name);
  }
  return { standard: [...standard], extra: [...extra.values()] };
}

/**
 * A provider field value made readable: options, users and versions by their name, lists element
 * by element, rich text through `richText`; scalars as they are.
 */
export function readableFieldValue(
  value: unknown,
  richText: (value: unknown) => string = () => '',
): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => readableFieldValue(item, richText));
  const record = value as Record<string, unknown>;
  if (record.type === 'doc' && Array.isArray(record.content)) return richText(record);
  if (typeof record.raw === 'string') return record.raw;
  for (const key of ['displayName', 'name', 'value', 'title', 'key']) {
    if (typeof record[key] === 'string') return record[key];
  }
  return value;
}
