import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A plain `node:http` server that records every request it gets (with its `Authorization`
 * header) and answers as the test scripts. It stands for whatever an attacker points a provider
 * `base_url` at: the server's own port, an internal service, a host that should never see a
 * provider token. Listening on `::` (dual stack), it is reached by every loopback spelling:
 * 127.0.0.1, 127.0.0.2, 0.0.0.0, [::], [::1], localhost, [::ffff:127.0.0.1], 2130706433.
 */
export interface RecordedCall {
  method: string;
  url: string;
  authorization: string | undefined;
}

export type RecordingHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface RecordingServer {
  readonly port: number;
  readonly calls: RecordedCall[];
  /** `http://<host>:<port>`; the host as written in a URL (`[::1]`, `127.0.0.1`, `localhost`). */
  urlVia(host: string): string;
  answer(handler: RecordingHandler): void;
  stop(): Promise<void>;
}

/** Answers 200 with a Jira-looking `/myself`, so an unguarded client would call it a success. */
export const answerAsJira: RecordingHandler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ accountId: 'x', name: 'x', displayName: 'Internal', key: 'x' }));
};

export async function startRecordingServer(
  options: { host?: string; handler?: RecordingHandler } = {},
): Promise<RecordingServer> {
  const calls: RecordedCall[] = [];
  let handler = options.handler ?? answerAsJira;
  const server = createServer((req, res) => {
    calls.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.listen(0, options.host ?? '::');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    calls,
    urlVia: (host) => `http://${host}:${port}`,
    answer(next) {
      handler = next;
    },
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A port nothing listens on (it was just released). */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}
