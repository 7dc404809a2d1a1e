import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import { createKey, registerAccount, type CreatedKey } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: string; status?: string; id?: string; result?: unknown };
}

/** fetch cannot set `Host`; node:http can, exactly as a DNS-rebinding browser page would send it. */
function send(
  url: string,
  options: { method?: string; path: string; headers: Record<string, string>; body?: unknown },
): Promise<RawResponse> {
  const target = new URL(url);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: RawResponse['body'] = {};
          try {
            body = text ? (JSON.parse(text) as RawResponse['body']) : {};
          } catch {
            // An SSE answer: look for the JSON-RPC message in its data line.
            const data = /^data: (.*)$/m.exec(text)?.[1];
            body = data ? (JSON.parse(data) as RawResponse['body']) : {};
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'rebinding-check', version: '1.0.0' },
  },
};

const mcpHeaders = { accept: 'application/json, text/event-stream' };

describe.each(databaseKinds)('Host and Origin checks on %s', (database) => {
  describe('bound to loopback without PM_MCP_PUBLIC_URL', () => {
    let server: TestServer;
    let key: CreatedKey;
    let port: string;

    beforeAll(async () => {
      server = await startTestServer({ database });
      key = await createKey(server.url, await registerAccount(server.url));
      port = new URL(server.url).port;
    });
    afterAll(() => server.stop());

    it('refuses a foreign Host with 421 on every route, /health included', async () => {
      for (const path of ['/health', '/api/users/me', '/mcp']) {
        const response = await send(server.url, {
          path,
          headers: { host: `evil.example:${port}`, 'x-mcp-api-key': key.api_key },
        });
        expect(response.status, path).toBe(421);
        expect(response.body.error).toBe('misdirected_request');
      }
      const noPort = await send(server.url, { path: '/health', headers: { host: 'evil.example' } });
      expect(noPort.status).toBe(421);
    });

    it('accepts the loopback names on any port', async () => {
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
        const response = await send(server.url, { path: '/health', headers: { host } });
        expect(response.status, host).toBe(200);
        expect(response.body.status).toBe('ok');
      }
    });

    it('passes the conformance scenario dns-rebinding-protection: same origin in, evil Host or Origin out', async () => {
      const valid = await send(server.url, {
        method: 'POST',
        path: '/mcp',
        headers: {
          ...mcpHeaders,
          host: `localhost:${port}`,
          origin: `http://localhost:${port}`,
          'x-mcp-api-key': key.api_key,
        },
        body: initialize,
      });
      expect(valid.status).toBe(200);
      expect(valid.body.result).toBeDefined();

      const evilHost = await send(server.url, {
        method: 'POST',
        path: '/mcp',
        headers: {
          ...mcpHeaders,
          host: 'evil.example',
          origin: 'http://evil.example',
          'x-mcp-api-key': key.api_key,
        },
        body: initialize,
      });
      expect(evilHost.status).toBe(421);

      const evilOrigin = await send(server.url, {
        method: 'POST',
        path: '/mcp',
        headers: {
          ...mcpHeaders,
          host: `localhost:${port}`,
          origin: 'http://evil.example',
          'x-mcp-api-key': key.api_key,
        },
        body: initialize,
      });
      expect(evilOrigin.status).toBe(403);
      expect(evilOrigin.body.error).toBe('origin_not_allowed');
    });

    it('same origin means the same port too', async () => {
      const otherPort = await send(server.url, {
        path: '/api/users/me',
        headers: {
          host: `localhost:${port}`,
          origin: `http://localhost:${Number(port) + 1}`,
          'x-mcp-api-key': key.api_key,
        },
      });
      expect(otherPort.status).toBe(403);
    });
  });

  describe('with PM_MCP_PUBLIC_URL', () => {
    let server: TestServer;
    let key: CreatedKey;

    beforeAll(async () => {
      server = await startTestServer({
        database,
        env: { PM_MCP_PUBLIC_URL: 'https://pm.example.test' },
      });
      key = await createKey(server.url, await registerAccount(server.url));
    });
    afterAll(() => server.stop());

    it('accepts its host and its origin, and still loopback names (bound to loopback)', async () => {
      const viaProxy = await send(server.url, {
        path: '/api/users/me',
        headers: {
          host: 'pm.example.test',
          origin: 'https://pm.example.test',
          'x-mcp-api-key': key.api_key,
        },
      });
      expect(viaProxy.status).toBe(200);
      const local = await send(server.url, { path: '/health', headers: { host: 'localhost' } });
      expect(local.status).toBe(200);
      const evil = await send(server.url, { path: '/health', headers: { host: 'evil.example' } });
      expect(evil.status).toBe(421);
      const http = await send(server.url, {
        path: '/api/users/me',
        headers: {
          host: 'pm.example.test',
          origin: 'http://pm.example.test',
          'x-mcp-api-key': key.api_key,
        },
      });
      expect(http.status).toBe(403);
    });
  });

  describe('bound to every interface without PM_MCP_PUBLIC_URL', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({ database, env: { HOST: '0.0.0.0' } });
    });
    afterAll(() => server.stop());

    it('accepts any Host, warns at start, and never takes a foreign Origin for its own', async () => {
      const any = await send(server.url, {
        path: '/health',
        headers: { host: 'pm.internal:8080' },
      });
      expect(any.status).toBe(200);
      expect(server.logs.join('')).toContain('PM_MCP_PUBLIC_URL');
      const rebinding = await send(server.url, {
        path: '/health',
        headers: { host: 'evil.example', origin: 'http://evil.example' },
      });
      expect(rebinding.status).toBe(403);
    });
  });
});
