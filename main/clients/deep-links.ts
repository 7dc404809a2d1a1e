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
export function vscodeInstallLink(target: ClientTarget): string {
  const checked = parseClientTarget(target);
  const { entry, inputs } = vscodeEntry(checked, 'project');
  const config = { name: serverEntryName, ...entry, inputs };
  return assertNoSecret(
    `vscode:mcp/install?${encodeURIComponent(JSON.stringify(config))}`,
    checked,
  );
}
