import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Real AI clients, installed from npm into a throwaway cache outside the repository
 * (`$XDG_CACHE_HOME/pm-mcp-test-clients/<package>@<version>`, default `~/.cache/…`), never as
 * project dependencies. Versions are pinned so a run is repeatable; an existing install is
 * reused, so only the first run downloads.
 */
export interface RealClient {
  /** Our client id (what `pm-mcp configure` takes). */
  id: 'claude-code' | 'gemini-cli' | 'qwen-code' | 'opencode' | 'codex';
  label: string;
  npmPackage: string;
  version: string;
  bin: string;
}

export const realClients: readonly RealClient[] = [
  {
    id: 'claude-code',
    label: 'Claude Code',
    npmPackage: '@anthropic-ai/claude-code',
    version: '2.1.332',
    bin: 'claude',
  },
  {
    id: 'gemini-cli',
    label: 'Gemini CLI',
    npmPackage: '@google/gemini-cli',
    version: '0.61.0',
    bin: 'gemini',
  },
  {
    id: 'qwen-code',
    label: 'Qwen Code',
    npmPackage: '@qwen-code/qwen-code',
    version: '0.24.4',
    bin: 'qwen',
  },
  {
    id: 'opencode',
    label: 'opencode',
    npmPackage: 'opencode-ai',
    version: '1.18.33',
    bin: 'opencode',
  },
  {
    id: 'codex',
    label: 'Codex CLI',
    npmPackage: '@openai/codex',
    version: '0.171.0',
    bin: 'codex',
  },
];

export function clientCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache');
  return path.join(base, 'pm-mcp-test-clients');
}

/** Where a client's bin lands once installed. */
export function binPath(client: RealClient): string {
  const folder = path.join(
    clientCacheRoot(),
    `${client.npmPackage.replace('/', '+')}@${client.version}`,
  );
  return path.join(folder, 'node_modules', '.bin', client.bin);
}

/** Installs the pinned version unless it is already there; returns the bin's path. */
export async function ensureInstalled(client: RealClient): Promise<string> {
  const bin = binPath(client);
  if (existsSync(bin)) return bin;
  const folder = path.dirname(path.dirname(path.dirname(bin)));
  mkdirSync(folder, { recursive: true });
  // A package.json of its own, so npm installs here and not into a parent project.
  writeFileSync(path.join(folder, 'package.json'), '{ "private": true }\n');
  await execFileAsync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-save', `${client.npmPackage}@${client.version}`],
    { cwd: folder, timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  if (!existsSync(bin)) {
    throw new Error(`npm installed ${client.npmPackage}@${client.version} but ${bin} is missing`);
  }
  return bin;
}
