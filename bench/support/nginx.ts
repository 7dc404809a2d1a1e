import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * nginx (the Debian package) as the reference for a well-made reverse proxy: a plain
 * `proxy_pass` over HTTP/1.1 with upstream keep-alive and no buffering, one worker (as the Node
 * proxy has one thread), run in the foreground from a generated config in a temporary folder.
 */

export const nginxBinary = '/usr/sbin/nginx';

export interface NginxProcess {
  readonly url: string;
  /** The master's pid; its worker is its child (count both for CPU). */
  readonly pid: number;
  stop(): Promise<void>;
}

export function nginxVersion(): string {
  // `nginx -v` writes to stderr.
  const output = execFileSync(nginxBinary, ['-v'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return output.trim() || 'nginx';
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitUntilListening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline)
      throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function nginxConfig(folder: string, listenPort: number, upstream: URL): string {
  const runningAsRoot = process.getuid?.() === 0;
  return `
${runningAsRoot ? 'user root;' : ''}
worker_processes 1;
error_log ${folder}/error.log warn;
pid ${folder}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${folder}/tmp/body;
  proxy_temp_path ${folder}/tmp/proxy;
  fastcgi_temp_path ${folder}/tmp/fastcgi;
  uwsgi_temp_path ${folder}/tmp/uwsgi;
  scgi_temp_path ${folder}/tmp/scgi;
  upstream backend {
    server ${upstream.host};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${listenPort};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # The server accepts only its own host names (421 otherwise), as behind deploy/nginx.
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`;
}

export async function startNginx(upstreamBaseUrl: string): Promise<NginxProcess> {
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-bench-nginx-'));
  mkdirSync(path.join(folder, 'tmp'));
  const port = await freePort();
  writeFileSync(
    path.join(folder, 'nginx.conf'),
    nginxConfig(folder, port, new URL(upstreamBaseUrl)),
  );
  const child = spawn(
    nginxBinary,
    ['-p', folder, '-c', path.join(folder, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
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
    await waitUntilListening(port, 5_000);
    return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
