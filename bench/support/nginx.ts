import { execFileSync } from 'node:child_process';
import { nginxBinary, startNginxWith, type NginxProcess } from '../../tests/support/nginx.js';

/**
 * nginx (the Debian package) as the reference for a well-made reverse proxy: a plain
 * `proxy_pass` over HTTP/1.1 with upstream keep-alive and no buffering, one worker (as the Node
 * proxy has one thread), run in the foreground from a generated config in a temporary folder.
 */

export function nginxVersion(): string {
  // `nginx -v` writes to stderr.
  const output = execFileSync(nginxBinary, ['-v'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return output.trim() || 'nginx';
}

export function startNginx(upstreamBaseUrl: string): Promise<NginxProcess> {
  const upstream = new URL(upstreamBaseUrl);
  return startNginxWith({
    workerConnections: 8192,
    http: (port) => `
  upstream backend {
    server ${upstream.host};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${port};
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
  }`,
  });
}
