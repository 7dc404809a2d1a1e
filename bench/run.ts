import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchProxy } from './b1-proxy.js';
import { benchServer } from './b2-server.js';
import { benchAuth } from './b3-auth.js';
import { benchFanOut } from './b4-fan-out.js';
import { benchSessions } from './b5-sessions.js';
import { benchRenderer } from './b6-renderer.js';
import { benchScaleOut } from './b7-scale-out.js';
import { startLoadGenerator, type LoadGenerator } from './load.js';
import {
  describeMachine,
  renderTable,
  writePerformanceDoc,
  type BenchOptions,
  type BenchResult,
} from './report.js';
import { summariseProfile } from './support/cpuprofile.js';
import { nginxVersion } from './support/nginx.js';

/**
 * `npm run bench` runs every benchmark; `tsx bench/run.ts B1 B3` a subset; `--profile` also
 * writes a CPU profile of every measured server and proxy process and prints their hottest
 * functions. Results: the table on stdout, bench/results/latest.json, and the generated part of
 * docs/PERFORMANCE.md (the rows of the benchmarks run; runs without failures or profiling).
 */

type Benchmark = (load: LoadGenerator, options: BenchOptions) => Promise<BenchResult>;
const benchmarks: Record<string, Benchmark> = {
  B1: benchProxy,
  B2: benchServer,
  B3: benchAuth,
  B4: benchFanOut,
  B5: benchSessions,
  B6: () => benchRenderer(),
  B7: (load) => benchScaleOut(load),
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsFolder = path.join(root, 'bench/results');

const args = process.argv.slice(2);
const profile = args.includes('--profile');
const requested = args.filter((arg) => !arg.startsWith('--')).map((arg) => arg.toUpperCase());
const unknown = requested.filter((id) => !(id in benchmarks));
if (unknown.length > 0) {
  console.error(
    `Unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(benchmarks).join(', ')}.`,
  );
  process.exit(2);
}
const selected = requested.length > 0 ? requested : Object.keys(benchmarks);

const startedAt = new Date();
const profileFolder = path.join(
  resultsFolder,
  'profiles',
  startedAt.toISOString().replace(/[:.]/g, '-'),
);
const options: BenchOptions = {
  measured: (role) =>
    profile ? { env: { BENCH_CPU_PROFILE: path.join(profileFolder, `${role}.cpuprofile`) } } : {},
};
const machine = describeMachine(nginxVersion());
const results: BenchResult[] = [];
const failures: string[] = [];

const load = await startLoadGenerator();
try {
  for (const id of selected) {
    const benchmark = benchmarks[id];
    if (!benchmark) continue;
    console.log(`${id} …`);
    try {
      const result = await benchmark(load, options);
      results.push(result);
      console.log(`${renderTable([result])}\n(${Math.round(result.seconds)} s)\n`);
    } catch (error) {
      failures.push(`${id}: ${(error as Error).stack ?? String(error)}`);
      console.error(`${id} failed:`, error);
    }
  }
} finally {
  await load.stop();
}

machine.loadAverageAtEnd = loadavg().map((value) => Math.round(value * 100) / 100);
const seconds = (Date.now() - startedAt.getTime()) / 1000;
console.log(renderTable(results));
console.log(
  `\n${Math.round(seconds)} s in all; load average ${machine.loadAverageAtStart.join(', ')} → ${machine.loadAverageAtEnd.join(', ')}`,
);

mkdirSync(resultsFolder, { recursive: true });
const run = { startedAt: startedAt.toISOString(), seconds, machine, results, failures };
writeFileSync(path.join(resultsFolder, 'latest.json'), JSON.stringify(run, null, 2) + '\n');
// Profiling slows the measured processes: such runs do not replace the published numbers. A run
// of some benchmarks replaces their rows and keeps the others' (marked as from an earlier run).
if (failures.length === 0 && !profile) {
  writePerformanceDoc(path.join(root, 'docs/PERFORMANCE.md'), run);
  console.log('Wrote bench/results/latest.json and docs/PERFORMANCE.md');
} else {
  console.log(
    'Wrote bench/results/latest.json (docs/PERFORMANCE.md: runs without failures or --profile only)',
  );
}

if (profile && existsSync(profileFolder)) {
  for (const file of readdirSync(profileFolder).filter((name) => name.endsWith('.cpuprofile'))) {
    const main = path.join(profileFolder, file);
    const summary = summariseProfile(main);
    console.log(`\n${path.relative(root, main)}`);
    for (const [title, entries] of [
      ['self time by function', summary.byFunction],
      ['self time by package', summary.byPackage],
      ['inclusive time by package', summary.packageInclusive],
      ['inclusive time of our own functions', summary.ownInclusive],
    ] as const) {
      console.log(`  ${title}:`);
      for (const entry of entries)
        console.log(`  ${entry.percent.toFixed(1).padStart(5)}%  ${entry.name}`);
    }
  }
}
if (failures.length > 0) {
  console.error(`\nFailed:\n${failures.join('\n')}`);
  process.exitCode = 1;
}
