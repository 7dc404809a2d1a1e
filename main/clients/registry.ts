import type { ClientId } from '../../preload/contract.js';
import type { ClientDefinition } from './client-definition.js';
import { claudeCode } from './claude-code.js';
import { claudeDesktop } from './claude-desktop.js';
import { codex } from './codex.js';
import { continueDev } from './continue.js';
import { cursor } from './cursor.js';
import { geminiCli, qwenCode } from './gemini.js';
import { goose } from './goose.js';
import { opencode } from './opencode.js';
import { amazonQ, jetbrains, lmStudio } from './other-clients.js';
import { cline, rooCode } from './vscode-extensions.js';
import { vscode } from './vscode.js';
import { windsurf } from './windsurf.js';
import { zed } from './zed.js';

/** Every client we configure, keyed by the IPC contract's `ClientId` (a constant table). */
export const clientDefinitions: Readonly<Record<ClientId, ClientDefinition>> = {
  cursor,
  vscode,
  'claude-code': claudeCode,
  windsurf,
  'claude-desktop': claudeDesktop,
  'gemini-cli': geminiCli,
  codex,
  zed,
  cline,
  'roo-code': rooCode,
  continue: continueDev,
  goose,
  opencode,
  jetbrains,
  'lm-studio': lmStudio,
  'amazon-q': amazonQ,
  'qwen-code': qwenCode,
};
