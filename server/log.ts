import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

const secretPatterns: readonly [RegExp, string][] = [
  // MCP API keys, wherever they appear in free text.
  [/mcp_[A-Za-z0-9]{8,}/g, 'mcp_[REDACTED]'],
  // Credentials in query strings (`?api_key=`, `&token=` …).
  [
    /([?&](?:api_key|apikey|token|access_token|refresh_token|password)=)[^&#\s"]*/gi,
    '$1[REDACTED]',
  ],
  // Bearer and Basic credentials in header-like text.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [REDACTED]'],
];

/** Removes keys, tokens and credential query values from a piece of text. */
export function redactSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of secretPatterns)
    result = result.replace(pattern, replacement);
  return result;
}

const redactedFields = [
  'password',
  'api_key',
  'apiKey',
  'api_token',
  'apiToken',
  'access_token',
  'refresh_token',
  'token',
  'secret',
  'authorization',
  'cookie',
  'x-mcp-api-key',
];

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return {
      type: value.name,
      message: redactSecrets(value.message),
      code: (value as { code?: unknown }).code,
    };
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    result[key] = redactedFields.includes(key.toLowerCase())
      ? '[REDACTED]'
      : scrub(item, depth + 1);
  }
  return result;
}

/**
 * Structured JSON logs. Every record passes through `scrub`, so a key, token or password never
 * reaches the output even when a caller logs something carelessly.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'pm-mcp-server' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        log: (object) => scrub(object, 0) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => scrub(arg, 0)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
    },
    destination,
  );
}
