import { hkdfSync } from 'node:crypto';

/** Derives an independent 32-byte key for one purpose from the master `PM_MCP_SECRET_KEY`. */
export function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `pm-mcp:${purpose}`, 32));
}
