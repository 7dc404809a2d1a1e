#!/usr/bin/env node
/**
 * `pm-mcp`: the composition root of the command-line program. It builds the real services (the
 * OS keychain through keytar, the config folder, the desktop core) and hands them to the
 * commands; no logic lives here.
 */
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDesktopCore } from '../core/desktop-core.js';
import { createKeytarSecretStore } from '../keychain/keytar-store.js';
import { keychainService } from '../keychain/secret-store.js';
import { resolveConfigDir } from '../state/paths.js';
import { runCli, type CliDeps } from './program.js';
import { createSystemBrowserOpener } from './system-browser.js';

export function createCliDeps(): CliDeps {
  const env = process.env;
  const clientEnvironment = { homeDir: homedir(), platform: process.platform, env };
  return {
    io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    cwd: process.cwd(),
    createCore(home) {
      const configDir =
        home !== undefined ? path.resolve(home) : resolveConfigDir(clientEnvironment);
      return createDesktopCore({
        configDir,
        // PM_MCP_KEYCHAIN_SERVICE keeps parallel test runs apart in one keychain; users leave it unset.
        secretStore: createKeytarSecretStore({
          service: env.PM_MCP_KEYCHAIN_SERVICE ?? keychainService,
        }),
        clientEnvironment,
        hostname: hostname(),
        openUrl: createSystemBrowserOpener({ platform: process.platform, stderr: process.stderr }),
      });
    },
    async runBridge(target) {
      // Loaded only here: the MCP SDK is not needed by the other commands.
      const { runStdioBridge } = await import('../proxy/bridge.js');
      return runStdioBridge({
        ...target,
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
      });
    },
    waitForStopSignal() {
      return new Promise((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve(signal);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    },
  };
}

/** Runs `pm-mcp` with these arguments; resolves with the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runCli(argv, createCliDeps());
}

// Run directly (`tsx main/cli/index.ts`, `node --import tsx main/cli/index.ts`); bin/pm-mcp.js
// imports this module and calls `main` itself.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(path.resolve(entry)).href) {
  process.exitCode = await main(process.argv.slice(2));
}
