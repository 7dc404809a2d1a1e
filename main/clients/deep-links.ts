import { DesktopError } from '../errors.js';
import { serverEntryName } from './client-definition.js';
import { cursorEntry } from './cursor.js';
import type { ClientTarget } from './target.js';
import { parseClientTarget, targetSecret } from './target.js';
import { vscodeEntry } from './vscode.js';

/**
 * One-click install links. They land in browser and shell history, so they only ever carry the
 * secret-free (project) form of our entry: Cursor reads the secret from `${env:NAME}`, VS Code
 * asks for it through a `promptString` input. Each link is checked to contain no secret.
 */

function assertNoSecret(link: string, target: ClientTarget): string {
  const secret = targetSecret(target);
  const forms = [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')];
  if (forms.some((form) => link.includes(form))) {
    // Unreachable by construction; kept so a future change cannot leak a secret silently.
    throw new DesktopError('unsupported', 'An install link must not contain a secret.');
  }
  return link;
}

/** `cursor://anysphere.cursor-deeplink/mcp/install?name=pm-server&config=<base64 entry>` */
export function cursorInstallLink(target: ClientTarget): string {
  const checked = parseClientTarget(target);
  const config = Buffer.from(JSON.stringify(cursorEntry(checked, 'project'))).toString('base64');
  return assertNoSecret(
    'cursor://anysphere.cursor-deeplink/mcp/install' +
      `?name=${encodeURIComponent(serverEntryName)}&config=${encodeURIComponent(config)}`,
    checked,
  );
}

/** `vscode:mcp/install?<URL-encoded JSON of { name, type, url, headers, inputs }>` */
export function vscodeInstallLink(target: ClientTarget, scheme = 'vscode'): string {
  const checked = parseClientTarget(target);
  const { entry, inputs } = vscodeEntry(checked, 'project');
  const config = { name: serverEntryName, ...entry, inputs };
  return assertNoSecret(
    `${scheme}:mcp/install?${encodeURIComponent(JSON.stringify(config))}`,
    checked,
  );
}

/** The same link for VS Code Insiders (`vscode-insiders:`). */
export function vscodeInsidersInstallLink(target: ClientTarget): string {
  return vscodeInstallLink(target, 'vscode-insiders');
}

/** Clients with an install link, by client id (keyed by string: more clients may join). */
const installLinks: Readonly<Record<string, (target: ClientTarget) => string>> = {
  cursor: cursorInstallLink,
  vscode: (target) => vscodeInstallLink(target),
  'vscode-insiders': vscodeInsidersInstallLink,
};

/** The client's one-click install link, or `null` when it has none. */
export function installLinkFor(client: string, target: ClientTarget): string | null {
  const link = Object.hasOwn(installLinks, client) ? installLinks[client] : undefined;
  return link ? link(target) : null;
}
