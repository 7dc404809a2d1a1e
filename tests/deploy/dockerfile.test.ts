import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/cluster.js';

/**
 * No Docker engine runs on the machines this repository is tested on, and base images cannot be
 * pulled. So the Dockerfile is run the way its builder would, step by step, on this machine's
 * Node 20 (the base image's): each stage in a clean folder standing for its `/app`, the build
 * context a clean copy of the repository's tracked files, `RUN` through `sh`, `COPY` (also
 * `--from=`), `ENV`, then the image's `CMD` and `HEALTHCHECK` started for real. `apt-get` steps
 * are not run (no root package changes from a test): the packages they install must already be
 * here, which is checked. What this cannot verify (the base image itself, `USER`, the layer
 * cache) is listed in docs/DEPLOY.md.
 */

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

interface Instruction {
  keyword: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.indexOf(' ');
    instructions.push({ keyword: full.slice(0, space).toUpperCase(), args: full.slice(space + 1) });
  }
  return instructions;
}

interface Stage {
  name: string;
  folder: string;
  env: Record<string, string>;
  cmd?: string[];
  healthcheck?: string[];
}

describe('the Dockerfile', { timeout: 900_000 }, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'pm-mcp-docker-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('builds in a clean folder, and the image it describes serves /ready and drains on SIGTERM', async () => {
    // The build context: the tracked files only, as a fresh clone has them.
    const context = path.join(work, 'context');
    for (const file of execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
      .split('\0')
      .filter(Boolean)) {
      if (!existsSync(path.join(root, file))) continue;
      mkdirSync(path.dirname(path.join(context, file)), { recursive: true });
      cpSync(path.join(root, file), path.join(context, file));
    }

    const stages: Stage[] = [];
    let stage: Stage | undefined;
    const current = (): Stage => {
      if (!stage) throw new Error('Dockerfile: an instruction before FROM');
      return stage;
    };
    const inStage = (target: Stage, containerPath: string): string =>
      path.join(
        target.folder,
        path.posix.relative('/app', path.posix.resolve('/app', containerPath)),
      );
    const skippedAptPackages: string[] = [];

    for (const { keyword, args } of parseDockerfile(
      readFileSync(path.join(root, 'Dockerfile'), 'utf8'),
    )) {
      switch (keyword) {
        case 'FROM': {
          const [image, , name] = args.split(/\s+/);
          expect(image).toMatch(/^node:20-/);
          stage = {
            name: name ?? String(stages.length),
            folder: path.join(work, `stage-${stages.length}`),
            env: {},
          };
          mkdirSync(stage.folder, { recursive: true });
          stages.push(stage);
          break;
        }
        case 'WORKDIR':
          expect(args).toBe('/app');
          break;
        case 'ENV':
          for (const pair of args.split(/\s+/)) {
            const [name, value] = pair.split('=');
            if (name && value !== undefined) current().env[name] = value;
          }
          break;
        case 'COPY': {
          const parts = args.split(/\s+/);
          const from = parts[0]?.startsWith('--from=')
            ? parts.shift()?.slice('--from='.length)
            : undefined;
          const destination = parts.pop() ?? '.';
          const source = from ? stages.find((candidate) => candidate.name === from) : undefined;
          if (from && !source) throw new Error(`COPY --from=${from}: no such stage`);
          for (const part of parts) {
            const origin = source ? inStage(source, part) : path.join(context, part);
            const target =
              destination.endsWith('/') || parts.length > 1
                ? path.join(inStage(current(), destination), path.basename(part))
                : inStage(current(), destination);
            mkdirSync(path.dirname(target), { recursive: true });
            cpSync(origin, target, { recursive: true });
          }
          break;
        }
        case 'RUN': {
          if (args.startsWith('apt-get')) {
            const packages = /install\s+(?:-\S+\s+)*(.+?)\s*&&/.exec(args)?.[1]?.split(/\s+/) ?? [];
            for (const pkg of packages) {
              const command = pkg === 'g++' ? 'g++' : pkg;
              execFileSync('sh', ['-c', `command -v ${command}`]);
              skippedAptPackages.push(pkg);
            }
            break;
          }
          await run('sh', ['-c', args], {
            cwd: current().folder,
            env: { ...process.env, ...current().env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' },
            maxBuffer: 64 * 1024 * 1024,
          });
          break;
        }
        case 'CMD':
          current().cmd = JSON.parse(args) as string[];
          break;
        case 'HEALTHCHECK':
          current().healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
          break;
        case 'USER':
        case 'EXPOSE':
        case 'STOPSIGNAL':
          break;
        default:
          throw new Error(`Dockerfile: ${keyword} is not understood by this test`);
      }
    }
    expect(skippedAptPackages).toEqual(['python3', 'make', 'g++']);

    const image = current();
    // The image holds the compiled server and its production dependencies, not the sources.
    expect(existsSync(path.join(image.folder, 'dist/server/cli.js'))).toBe(true);
    expect(existsSync(path.join(image.folder, 'server'))).toBe(false);
    expect(existsSync(path.join(image.folder, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(path.join(image.folder, 'node_modules/better-sqlite3'))).toBe(true);

    const [command, ...commandArgs] = image.cmd ?? [];
    expect(command).toBe('node');
    const port = await freePort();
    const dataFolder = path.join(work, 'data');
    const env = {
      PATH: process.env.PATH ?? '',
      ...image.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: `sqlite:${path.join(dataFolder, 'pm-mcp.sqlite')}`,
      PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    };
    const server = spawn(process.execPath, commandArgs, {
      cwd: image.folder,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    try {
      await waitFor(
        'the image to be ready',
        async () => {
          if (server.exitCode !== null) throw new Error(`the server exited:\n${output}`);
          try {
            return (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200;
          } catch {
            return false;
          }
        },
        120_000,
        200,
      );
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        version: string;
      };
      const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(health.version).toBe(pkg.version);
      // The image's HEALTHCHECK command, as Docker would run it inside.
      const [checkCommand, ...checkArgs] = image.healthcheck ?? [];
      expect(checkCommand).toBe('node');
      await run(process.execPath, checkArgs, { cwd: image.folder, env });
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
  });
});
