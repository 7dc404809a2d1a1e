import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';

/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05), server side, for SDK v2's `Transport`
 * interface. SDK v2 ships no SSE server transport, and SDK v1's ties message intake to a local
 * HTTP request; here a message may arrive from another instance (through PostgreSQL), so intake
 * is a plain `deliver(message)` and the wire format — an `endpoint` event, then one `message`
 * event per JSON-RPC message — is all this writes.
 */
export class SseServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly sessionId: string;
  readonly #response: ServerResponse;
  readonly #endpoint: string;
  #closed = false;

  constructor(sessionId: string, endpoint: string, response: ServerResponse) {
    this.sessionId = sessionId;
    this.#endpoint = endpoint;
    this.#response = response;
    response.on('close', () => this.#finish());
  }

  start(): Promise<void> {
    this.#response.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx and other buffering proxies: send each event as it is written.
      'X-Accel-Buffering': 'no',
    });
    this.#write(`event: endpoint\ndata: ${this.#endpoint}\n\n`);
    return Promise.resolve();
  }

  /** A message the client POSTed (here or on another instance) for this stream. */
  deliver(message: JSONRPCMessage): void {
    if (this.#closed) return;
    this.onmessage?.(message);
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('The SSE stream is closed'));
    this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    return Promise.resolve();
  }

  /** An SSE comment: keeps idle proxies from closing the stream. */
  keepAlive(): void {
    if (!this.#closed) this.#write(': keep-alive\n\n');
  }

  close(): Promise<void> {
    if (!this.#response.writableEnded) this.#response.end();
    this.#finish();
    return Promise.resolve();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #write(chunk: string): void {
    if (this.#response.writableEnded || this.#response.destroyed) return;
    this.#response.write(chunk);
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }
}
