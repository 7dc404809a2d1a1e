import { isIP } from 'node:net';
import { DesktopError } from '../errors.js';

/**
 * Normalises a server URL (no trailing slash, no query, no credentials) and refuses plain
 * `http://` to a host other than loopback unless the user confirmed it (`--insecure`): the
 * password, the session tokens and the MCP key would cross the network in clear text.
 */
export function normalizeServerUrl(raw: string, options: { allowInsecure?: boolean } = {}): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch (error) {
    throw new DesktopError(
      'usage',
      `"${raw}" is not a server URL; use e.g. https://pm-mcp.example.com`,
      { cause: error },
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DesktopError(
      'usage',
      `The server URL must start with https:// (got ${url.protocol})`,
    );
  }
  if (url.username || url.password) {
    throw new DesktopError('usage', 'The server URL must not contain a user name or password');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && options.allowInsecure !== true) {
    throw new DesktopError(
      'insecure_server_url',
      `${url.origin} uses plain http:// to a host that is not this machine: your password, ` +
        'session and MCP key would travel unencrypted. Use https://, or confirm with --insecure ' +
        '(only on a network you trust)',
    );
  }
  const pathname = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${pathname}`;
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}
