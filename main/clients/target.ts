import { z } from 'zod';
import { DesktopError } from '../errors.js';

/**
 * What a client is pointed at. Proxy mode (the default): the loopback proxy's MCP URL and this
 * install's local token. Direct mode (`--direct`): the server's MCP URL and the MCP key itself.
 * Claude Desktop speaks stdio only, so it always runs our bridge command instead
 * (`bridgeCommand`/`bridgeArgs`, e.g. `/usr/bin/node`, `['/opt/pm-mcp/bin/pm-mcp.js', 'bridge']`);
 * the bridge reads its secret from the keychain, so nothing secret goes into its file.
 */
export interface BridgeCommand {
  /** Absolute path of the program Claude Desktop starts (GUI apps do not see the shell's PATH). */
  bridgeCommand?: string;
  bridgeArgs?: readonly string[];
}

export interface ProxyTarget extends BridgeCommand {
  mode: 'proxy';
  /** The exact URL written, e.g. `http://127.0.0.1:8765/mcp` (see `proxyMcpUrl`). */
  proxyUrl: string;
  localToken: string;
}

export interface DirectTarget extends BridgeCommand {
  mode: 'direct';
  /** The exact URL written, e.g. `https://pm.example.com/mcp` (see `serverMcpUrl`). */
  serverUrl: string;
  apiKey: string;
}

export type ClientTarget = ProxyTarget | DirectTarget;

/** The proxy's MCP endpoint for a port. */
export function proxyMcpUrl(port: number): string {
  return `http://127.0.0.1:${port}/mcp`;
}

/** The server's MCP endpoint for a server base URL (`https://pm.example.com/` → `…/mcp`). */
export function serverMcpUrl(serverUrl: string): string {
  const base = serverUrl.replace(/\/+$/, '');
  return base.endsWith('/mcp') ? base : `${base}/mcp`;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

function parsedUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

// Printable ASCII without spaces: anything else would break the header line or get split by
// clients that split arguments on spaces. Messages never repeat the value.
const secretSchema = (what: string) =>
  z
    .string({ error: `The ${what} is missing.` })
    .min(16, { error: `The ${what} is too short to be real.` })
    .regex(/^[\x21-\x7e]+$/, { error: `The ${what} contains spaces or unexpected characters.` });

const bridgeFields = {
  bridgeCommand: z.string().min(1, { error: 'The bridge command is empty.' }).optional(),
  bridgeArgs: z.array(z.string()).optional(),
};

const proxyTargetSchema = z.object({
  mode: z.literal('proxy'),
  proxyUrl: z.string().refine(
    (value) => {
      const url = parsedUrl(value);
      return url !== null && url.protocol === 'http:' && loopbackHosts.has(url.hostname);
    },
    { error: 'The proxy URL must be an http:// URL on 127.0.0.1 or localhost.' },
  ),
  localToken: secretSchema('local token'),
  ...bridgeFields,
});

const directTargetSchema = z.object({
  mode: z.literal('direct'),
  serverUrl: z.string().refine(
    (value) => {
      const url = parsedUrl(value);
      return url !== null && (url.protocol === 'https:' || url.protocol === 'http:');
    },
    { error: 'The server URL must be an http:// or https:// URL.' },
  ),
  apiKey: secretSchema('MCP key'),
  ...bridgeFields,
});

const clientTargetSchema = z.discriminatedUnion('mode', [proxyTargetSchema, directTargetSchema], {
  error: 'The mode must be "proxy" or "direct".',
});

/** Validates a target at the boundary; the error names what is wrong, never a secret value. */
export function parseClientTarget(value: unknown): ClientTarget {
  const result = clientTargetSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => issue.message);
  throw new DesktopError('usage', `Cannot configure the client: ${problems.join(' ')}`);
}

/** The literal secret a target carries (to prove it never lands where it must not). */
export function targetSecret(target: ClientTarget): string {
  return target.mode === 'proxy' ? target.localToken : target.apiKey;
}
