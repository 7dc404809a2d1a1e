import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './cluster.js';

export const nginxBinary = '/usr/sbin/nginx';

export interface NginxProcess {
  readonly url: string;
  /** The master's pid; its one worker is its child. */
  readonly pid: number;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** The `http { … }` block's own part: upstreams and the server (given the port to listen on). */
  http: (listenPort: number) => string;
  workerConnections?: number;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * nginx (Debian's nginx-light) in the foreground, one worker, from a generated config in a
 * temporary folder (its pid, logs and temp files too), on a free loopback port.
 */
export async function startNginxWith(options: NginxOptions): Promise<NginxProcess> {
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-nginx-'));
  mkdirSync(path.join(folder, 'tmp'));
  const port = await freePort();
  const runningAsRoot = process.getuid?.() === 0;
  writeFileSync(
    path.join(folder, 'nginx.conf'),
    `
${runningAsRoot ? 'user root;' : ''}
worker_processes 1;
error_log ${folder}/error.log warn;
pid ${folder}/nginx.pid;
events { worker_connections ${options.workerConnections ?? 4096}; }
http {
  access_log off;
  client_body_temp_path ${folder}/tmp/body;
  proxy_temp_path ${folder}/tmp/proxy;
  fastcgi_temp_path ${folder}/tmp/fastcgi;
  uwsgi_temp_path ${folder}/tmp/uwsgi;
  scgi_temp_path ${folder}/tmp/scgi;
${options.http(port)}
}
`,
  );
  const child = spawn(
    nginxBinary,
    ['-p', folder, '-c', path.join(folder, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    if (child.pid === undefined) throw new Error('could not start nginx');
    await waitFor(`nginx to listen on ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      return accepts(port);
    });
    return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const deployProxyConf = path.resolve(import.meta.dirname, '../../deploy/nginx/pm-mcp-proxy.conf');

/**
 * nginx round robin without stickiness over the given instances, with the proxy settings of
 * `deploy/nginx/pm-mcp-proxy.conf` included verbatim (the tested deployment config).
 */
export function startNginx(upstreamPorts: readonly number[]): Promise<NginxProcess> {
  return startNginxWith({
    http: (port) => `
  upstream pm_mcp {
${upstreamPorts.map((upstream) => `    server 127.0.0.1:${upstream} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 32;
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${port};
    include ${deployProxyConf};
  }`,
  });
}
