#!/usr/bin/env node
// `pm-mcp-server`: registers tsx's ESM loader in this process (resolved from this file, so the bin
// works from any folder) and runs the TypeScript entry. One process: Ctrl-C and SIGTERM reach the
// server's own shutdown.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli.ts');
await main();
