import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) as shares of the busy (non-idle) time —
 * a benchmark process idles between its runs: self time by function and by package, and the
 * inclusive time of the project's own functions (what each of our code paths costs, callees
 * included, as far as they run synchronously).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  percent: number;
}

export interface ProfileSummary {
  byFunction: SelfTime[];
  byPackage: SelfTime[];
  ownInclusive: SelfTime[];
  packageInclusive: SelfTime[];
}

/** `express`, `@modelcontextprotocol/sdk`, `server/auth/…`, `node internals`, or a native frame. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  if (url.startsWith('node:')) return 'node internals';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('node_modules/');
  if (modules === -1) return path.relative(process.cwd(), file);
  const [scope, name] = file.slice(modules + 'node_modules/'.length).split('/');
  return scope?.startsWith('@') ? `${scope}/${name ?? ''}` : (scope ?? file);
}

function shortPath(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('node_modules/');
  if (modules !== -1) return file.slice(modules + 'node_modules/'.length);
  return url.startsWith('node:') ? url : path.relative(process.cwd(), file);
}

function top(times: Map<string, number>, total: number, count: number): SelfTime[] {
  return [...times.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, time]) => ({ name, percent: (100 * time) / total }));
}

const isOwnCode = (url: string): boolean =>
  url.startsWith('file://') && !url.includes('/node_modules/');

export function summariseProfile(file: string, count = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node.id);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const ownInclusive = new Map<string, number>();
  const packageInclusive = new Map<string, number>();
  const add = (times: Map<string, number>, key: string, delta: number): void => {
    times.set(key, (times.get(key) ?? 0) + delta);
  };
  let total = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const frame = nodes.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    total += delta;
    const where = frame.url ? ` ${shortPath(frame.url)}:${frame.lineNumber + 1}` : '';
    add(byFunction, `${frame.functionName || '(anonymous)'}${where}`, delta);
    add(byPackage, packageOf(frame.url, frame.functionName || '(anonymous)'), delta);
    const counted = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const caller = nodes.get(at)?.callFrame;
      if (!caller?.url.startsWith('file://')) continue;
      const owner = `${packageOf(caller.url, '')} (and callees)`;
      if (!counted.has(owner)) {
        counted.add(owner);
        add(packageInclusive, owner, delta);
      }
      if (!isOwnCode(caller.url)) continue;
      // tsx's transpiled files report no useful line: function and file name it.
      const name = `${caller.functionName || '(anonymous)'} ${shortPath(caller.url)}`;
      if (counted.has(name)) continue;
      counted.add(name);
      add(ownInclusive, name, delta);
    }
  });
  return {
    byFunction: top(byFunction, total, count),
    byPackage: top(byPackage, total, count),
    ownInclusive: top(ownInclusive, total, count),
    packageInclusive: top(packageInclusive, total, count),
  };
}
