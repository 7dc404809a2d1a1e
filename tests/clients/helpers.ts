import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClientEnvironment, ClientOptions, ClientTarget } from '../../main/clients/index.js';
import { DesktopError } from '../../main/errors.js';
import { desktopErrorOf } from '../support/desktop-errors.js';

/** A fresh temporary HOME with its XDG config folder, removed by `cleanup`. */
export interface TempHome {
  home: string;
  environment: ClientEnvironment;
  options: ClientOptions;
  cleanup(): Promise<void>;
}

export async function makeTempHome(): Promise<TempHome> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'pm-mcp-clients-'));
  const environment: ClientEnvironment = {
    homeDir: home,
    platform: process.platform,
    env: { XDG_CONFIG_HOME: path.join(home, '.config'), APPDATA: path.join(home, 'AppData') },
  };
  return {
    home,
    environment,
    options: { environment },
    cleanup: () => fs.rm(home, { recursive: true, force: true }),
  };
}

/** A local token like the proxy's: 256 random bits, generated per run. */
export function newLocalToken(): string {
  return randomBytes(32).toString('base64url');
}

/** An MCP key in the server's format, generated per run. */
export function newApiKey(): string {
  return `mcp_${randomBytes(30).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export function proxyTarget(port = 8765, localToken = newLocalToken()): ClientTarget {
  return { mode: 'proxy', proxyUrl: `http://127.0.0.1:${port}/mcp`, localToken };
}

export function directTarget(apiKey = newApiKey()): ClientTarget {
  return { mode: 'direct', serverUrl: 'https://pm.example.com/mcp', apiKey };
}

export async function readJson(filePath: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(filePath, 'utf8')) as unknown;
}

export async function writeFileIn(filePath: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(filePath), { recursive: true });
  await fs.writeFile(filePath, text);
}

export async function modeOf(filePath: string): Promise<number> {
  return (await fs.stat(filePath)).mode & 0o777;
}

/** Runs `action`, expecting a DesktopError; returns it for further checks. */
export function desktopErrorFrom(action: () => Promise<unknown>): Promise<DesktopError> {
  return desktopErrorOf(Promise.resolve().then(action));
}

/** Runs `action`, expecting it to throw a DesktopError synchronously. */
export function desktopErrorFromSync(action: () => unknown): DesktopError {
  try {
    action();
  } catch (error) {
    if (error instanceof DesktopError) return error;
    throw error;
  }
  throw new Error('expected a DesktopError, but nothing was thrown');
}
