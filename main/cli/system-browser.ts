import { spawn } from 'node:child_process';

/**
 * The platform's "open this URL" command. On Windows `rundll32 url.dll,FileProtocolHandler`
 * rather than `start`: `start` is a cmd built-in, and cmd would cut the URL at its first `&`.
 */
function openCommand(platform: NodeJS.Platform, url: string): [string, string[]] {
  if (platform === 'darwin') return ['open', [url]];
  if (platform === 'win32') return ['rundll32', ['url.dll,FileProtocolHandler', url]];
  return ['xdg-open', [url]];
}

/**
 * `openUrl` for the command line: prints the URL first (a terminal over SSH has no browser to
 * open; the person opens it by hand), then tries the platform's opener, never failing when there
 * is none.
 */
export function createSystemBrowserOpener(options: {
  platform: NodeJS.Platform;
  stderr: NodeJS.WritableStream;
}): (url: string) => Promise<void> {
  return (url) => {
    options.stderr.write(
      `Opening your browser to sign in. If it does not open, go to:\n  ${url}\nWaiting for the browser…\n`,
    );
    const [command, args] = openCommand(options.platform, url);
    try {
      const child = spawn(command, args, { stdio: 'ignore', detached: true });
      child.on('error', () => undefined);
      child.unref();
    } catch {
      // No opener: the printed URL is the way.
    }
    return Promise.resolve();
  };
}
