import type { McpServer } from '@modelcontextprotocol/server';

/**
 * The SDK turns a tool's input and output schemas into JSON Schema (for `tools/list`, for the
 * 2026-07-28 header checks of a `tools/call`, and to project a call's result) and remembers the
 * result on its own `McpServer`. `/mcp` builds a new server per request, so every call converted
 * them again: 5–7% of the server's CPU per call in the B2 profile. The tools' schemas are
 * module-level constants; this converts each once per process.
 */

type JsonSchema = Record<string, unknown>;
type Convert = (options: {
  target: string;
  libraryOptions?: Record<string, unknown>;
}) => JsonSchema;
interface StandardJsonSchema {
  '~standard': { jsonSchema?: { input: Convert; output: Convert } } & Record<string, unknown>;
}

const converted = new WeakSet<object>();

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const nested of Object.values(value)) deepFreeze(nested);
  }
  return value;
}

/** Makes this schema's JSON Schema conversions happen once (frozen: shared by every request). */
function convertOnce(schema: unknown): void {
  if (schema === null || typeof schema !== 'object' || converted.has(schema)) return;
  const standard = (schema as Partial<StandardJsonSchema>)['~standard'];
  const jsonSchema = standard?.jsonSchema;
  if (!standard || !jsonSchema) return;
  const results = new Map<string, JsonSchema>();
  const once =
    (io: 'input' | 'output'): Convert =>
    (options) => {
      const key = `${io} ${JSON.stringify(options)}`;
      let result = results.get(key);
      if (result === undefined) {
        result = deepFreeze(jsonSchema[io](options));
        results.set(key, result);
      }
      return result;
    };
  // zod accepts a replacement `~standard` (its setter keeps it on the instance).
  (schema as StandardJsonSchema)['~standard'] = {
    ...standard,
    jsonSchema: { input: once('input'), output: once('output') },
  };
  converted.add(schema);
}

/** From now on, tools registered on `server` have their schemas converted once per process. */
export function convertToolSchemasOnce(server: McpServer): void {
  // Seen through a plain signature: the SDK's overloads include a deprecated raw-shape form.
  const registry = server as unknown as {
    registerTool: (name: string, config: ToolSchemas, ...rest: unknown[]) => unknown;
  };
  const register = registry.registerTool.bind(server);
  registry.registerTool = (name, config, ...rest) => {
    convertOnce(config.inputSchema);
    convertOnce(config.outputSchema);
    return register(name, config, ...rest);
  };
}

interface ToolSchemas {
  inputSchema?: unknown;
  outputSchema?: unknown;
}
