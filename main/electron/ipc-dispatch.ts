/**
 * The transport-independent half of the IPC layer: one zod schema per `DesktopApi` method for its
 * arguments, and one function that validates a call, runs it on the services and shapes the
 * answer as `{ok: true, value}` or `{ok: false, error: {code, message}}`. `ipc.ts` puts this
 * behind Electron's `ipcMain` (after checking the sender); the browser end-to-end tests put the
 * very same function behind HTTP. Nothing here imports electron.
 */
import { z } from 'zod';
import {
  clientIds,
  providerTypes,
  type DesktopApi,
  type DesktopApiError,
  type DesktopMethod,
} from '../../preload/contract.js';
import { isDesktopError } from '../errors.js';

/** Errors of the IPC layer itself (the services' own codes come from `main/errors.ts`). */
export const ipcErrorCodes = {
  invalidArgument: 'invalid_argument',
  forbiddenSender: 'forbidden_sender',
  unknownMethod: 'unknown_method',
  internal: 'internal',
} as const;

const id = z.string().min(1).max(200);
const url = z.string().min(1).max(2048);
// A key's or a grant's limits change.
const limitList = (max: number) =>
  z.array(z.string().trim().min(1).max(200)).min(1).max(max).nullable().optional();
const limitsChange = z.strictObject({
  allowedTools: limitList(50),
  allowedProjects: limitList(200),
});

const signInInput = z.strictObject({
  serverUrl: url,
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
  createAccount: z.boolean().optional(),
  name: z.string().max(200).optional(),
  allowInsecure: z.boolean().optional(),
});

const browserSignInInput = z.strictObject({
  serverUrl: url,
  allowInsecure: z.boolean().optional(),
});

const addProviderInput = z.strictObject({
  providerType: z.enum(providerTypes),
  name: z.string().min(1).max(200),
  baseUrl: url,
  email: z.string().max(320).optional(),
  apiToken: z.string().min(1).max(8192),
});

const settingsPatch = z.strictObject({
  serverUrl: url.nullable().optional(),
  proxyPort: z.number().int().min(1024).max(65_535).optional(),
  startAtLogin: z.boolean().optional(),
  autoConfigureCursor: z.boolean().optional(),
});

const none = z.tuple([]);

/** The arguments each method accepts, exactly as the contract types them. */
export const argumentSchemas: {
  [M in DesktopMethod]: z.ZodType<Parameters<DesktopApi[M]>>;
} = {
  getState: none,
  signIn: z.tuple([signInInput]),
  signInWithBrowser: z.tuple([browserSignInInput]),
  cancelBrowserSignIn: none,
  signOut: none,
  listKeys: none,
  revokeKey: z.tuple([id]),
  setKeyLimits: z.tuple([id, limitsChange]),
  listGrants: none,
  revokeGrant: z.tuple([id]),
  setGrantLimits: z.tuple([id, limitsChange]),
  rotateKey: none,
  replaceRejectedKey: none,
  configureClient: z.tuple([z.enum(clientIds)]),
  unconfigureClient: z.tuple([z.enum(clientIds)]),
  undoAutoConfigure: none,
  keepAutoConfigure: none,
  listProviders: none,
  addProvider: z.tuple([addProviderInput]),
  testProvider: z.tuple([id]),
  removeProvider: z.tuple([id]),
  getSettings: none,
  updateSettings: z.tuple([settingsPatch]),
};

export const desktopMethods = Object.keys(argumentSchemas) as DesktopMethod[];

export function isDesktopMethod(name: string): name is DesktopMethod {
  return Object.hasOwn(argumentSchemas, name);
}

export type IpcReply = { ok: true; value: unknown } | { ok: false; error: DesktopApiError };

export interface DispatchOptions {
  /** Told about errors that are not `DesktopError`s (bugs); the window gets a generic message. */
  onUnexpectedError?: (method: DesktopMethod, error: unknown) => void;
}

/** Validates the arguments, calls the method, and never rejects. */
export async function dispatchDesktopCall(
  api: DesktopApi,
  method: DesktopMethod,
  args: readonly unknown[],
  options: DispatchOptions = {},
): Promise<IpcReply> {
  const parsed = argumentSchemas[method].safeParse(args);
  if (!parsed.success) {
    return { ok: false, error: invalidArguments(method, parsed.error) };
  }
  try {
    // The schema produced exactly `Parameters<DesktopApi[method]>`; TypeScript cannot correlate
    // the union of methods with the union of their parameter tuples, hence the one cast.
    const call = api[method].bind(api) as (...values: unknown[]) => Promise<unknown>;
    const value = await call(...(parsed.data as unknown[]));
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: toIpcError(method, error, options) };
  }
}

function invalidArguments(method: DesktopMethod, error: z.ZodError): DesktopApiError {
  // Only the path and zod's message: never the value (it may be a password or a token).
  const issue = error.issues[0];
  const where =
    issue && issue.path.length > 0 ? ` (${issue.path.slice(1).join('.') || 'argument'})` : '';
  return {
    code: ipcErrorCodes.invalidArgument,
    message: `Invalid arguments for ${method}${where}: ${issue?.message ?? 'unexpected value'}`,
  };
}

function toIpcError(
  method: DesktopMethod,
  error: unknown,
  options: DispatchOptions,
): DesktopApiError {
  if (isDesktopError(error)) return { code: error.code, message: error.message };
  options.onUnexpectedError?.(method, error);
  return {
    code: ipcErrorCodes.internal,
    message:
      'Something went wrong inside PM MCP. Try again; if it keeps happening, restart the app.',
  };
}
