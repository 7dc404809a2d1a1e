import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  serveCommands,
  startChild,
  startChildMain,
  type Child,
  type ChildOptions,
} from './child.js';

/**
 * The floor under any proxy written on `node:net`: one upstream connection per client
 * connection and every chunk written on as it arrives, nothing parsed, checked or added. Not a
 * proxy anyone could ship (it would relay anything, and adds no key); B1 measures it beside the
 * loopback proxy and nginx so that the share of the proxy's cost that Node itself sets is a
 * figure of every run rather than a claim.
 */

export type ByteRelay = Child<Record<string, never>, { url: string }>;

export function startByteRelay(
  upstreamBaseUrl: string,
  options: ChildOptions = {},
): Promise<ByteRelay> {
  return startChild(fileURLToPath(import.meta.url), {
    ...options,
    env: { BENCH_BYTE_RELAY_UPSTREAM: upstreamBaseUrl, ...options.env },
  });
}

function relayBytes(client: Socket, upstream: { hostname: string; port: number }): Socket {
  const server = connect({ host: upstream.hostname, port: upstream.port, noDelay: true });
  client.setNoDelay(true);
  client.on('data', (chunk: Buffer) => server.write(chunk));
  server.on('data', (chunk: Buffer) => client.write(chunk));
  client.on('error', () => undefined); // 'close' follows
  server.on('error', () => undefined);
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
  return server;
}

const upstreamUrl = process.env.BENCH_BYTE_RELAY_UPSTREAM;
if (upstreamUrl !== undefined && process.send) {
  startChildMain(async () => {
    const { hostname, port } = new URL(upstreamUrl);
    const upstream = { hostname, port: Number(port) };
    const sockets = new Set<Socket>();
    const server = createServer({ noDelay: true }, (client) => {
      const toServer = relayBytes(client, upstream);
      sockets.add(client).add(toServer);
      client.on('close', () => {
        sockets.delete(client);
        sockets.delete(toServer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as AddressInfo;
    await serveCommands(
      {},
      {
        ready: { url: `http://127.0.0.1:${address.port}` },
        cleanup: () =>
          new Promise((resolve) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => resolve());
          }),
      },
    );
  });
}
