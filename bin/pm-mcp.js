#!/usr/bin/env node
// `pm-mcp`: registers tsx's ESM loader in this process and runs the TypeScript entry, so the bin
// works from a source checkout. One process (no child): signals such as Ctrl-C on `pm-mcp proxy`
// and a client stopping `pm-mcp bridge` reach the code that handles them.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/cli/index.ts');
process.exitCode = await main(process.argv.slice(2));
