import type { ClientId } from '../../preload/contract.js';
import type { ClientDefinition } from './client-definition.js';
import { claudeCode } from './claude-code.js';
import { claudeDesktop } from './claude-desktop.js';
import { cursor } from './cursor.js';
import { vscode } from './vscode.js';
import { windsurf } from './windsurf.js';

/** Every client we configure, keyed by the IPC contract's `ClientId` (a constant table). */
export const clientDefinitions: Readonly<Record<ClientId, ClientDefinition>> = {
  cursor,
  vscode,
  'claude-code': claudeCode,
  windsurf,
  'claude-desktop': claudeDesktop,
};
