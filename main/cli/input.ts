import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { DesktopError } from '../errors.js';

export interface CliInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
}

/** Everything on stdin, without the final line break (`--password-stdin`, provider tokens). */
export async function readAllStdin(stdin: CliInput, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value === '') throw new DesktopError('usage', `No ${what} on standard input`);
  return value;
}

/** Asks on the terminal without echoing what is typed. */
export function promptHidden(
  stdin: CliInput,
  stderr: NodeJS.WritableStream,
  question: string,
): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: stdin, output, terminal: true });
  return new Promise((resolve, reject) => {
    rl.question(question, (answer) => {
      rl.close();
      stderr.write('\n');
      resolve(answer);
    });
    muted = true;
    rl.on('SIGINT', () => {
      rl.close();
      reject(new DesktopError('usage', 'Cancelled'));
    });
  });
}

/**
 * A secret from stdin (when asked to, or when stdin is not a terminal and `pipeFlag` is null),
 * else from a hidden prompt on the terminal. Never from the command line.
 */
export async function readSecret(
  io: { stdin: CliInput; stderr: NodeJS.WritableStream },
  what: string,
  options: { fromStdin: boolean; pipeFlag: string | null },
): Promise<string> {
  const terminal = io.stdin.isTTY === true;
  if (options.fromStdin || (!terminal && options.pipeFlag === null)) {
    return readAllStdin(io.stdin, what);
  }
  if (!terminal) {
    // Not a terminal and not told to read stdin: reading it anyway could hang or surprise.
    throw new DesktopError(
      'usage',
      `No terminal to ask for the ${what}: pipe it in with ${options.pipeFlag ?? ''}`,
    );
  }
  const label = `${what.charAt(0).toUpperCase()}${what.slice(1)}: `;
  const answer = await promptHidden(io.stdin, io.stderr, label);
  if (answer === '') throw new DesktopError('usage', `No ${what} given`);
  return answer;
}
