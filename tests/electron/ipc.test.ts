import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ipcChannel, type DesktopMethod } from '../../preload/contract.js';
import { createSenderCheck, registerDesktopIpc } from '../../main/electron/ipc.js';
import { DesktopError } from '../../main/errors.js';
import { standIn } from './electron-stand-in.js';
import { createCoreStandIn, type CoreStandIn } from './core-stand-in.js';

vi.mock('electron', async () => (await import('./electron-stand-in.js')).standIn.module);

const pagePath = path.resolve('/opt/pm-mcp/renderer/dist/index.html');
const appPage = { url: pathToFileURL(pagePath).href };
let core: CoreStandIn;
let unexpected: { method: DesktopMethod; error: unknown }[];

/** Every method of the contract, typed so a new method without a handler fails to compile here. */
const everyMethod: Record<DesktopMethod, true> = {
  getState: true,
  signIn: true,
  signInWithBrowser: true,
  cancelBrowserSignIn: true,
  signOut: true,
  listKeys: true,
  revokeKey: true,
  setKeyLimits: true,
  listGrants: true,
  revokeGrant: true,
  setGrantLimits: true,
  rotateKey: true,
  replaceRejectedKey: true,
  configureClient: true,
  unconfigureClient: true,
  undoAutoConfigure: true,
  keepAutoConfigure: true,
  listProviders: true,
  addProvider: true,
  testProvider: true,
  removeProvider: true,
  getSettings: true,
  updateSettings: true,
};

function register(
  page: Parameters<typeof createSenderCheck>[0] = { kind: 'file', path: pagePath },
) {
  return registerDesktopIpc({
    services: core,
    isTrustedSender: createSenderCheck(page),
    onUnexpectedError: (method, error) => unexpected.push({ method, error }),
  });
}

const callsOf = (method: DesktopMethod) => core.calls.filter((call) => call.method === method);

beforeEach(() => {
  standIn.reset();
  core = createCoreStandIn();
  unexpected = [];
});

describe('IPC handlers', () => {
  it('registers exactly one handler per contract method on pm-mcp:<method>, and removes them', () => {
    const unregister = register();
    expect([...standIn.handlers.keys()].sort()).toEqual(
      Object.keys(everyMethod)
        .map((method) => ipcChannel(method as DesktopMethod))
        .sort(),
    );
    unregister();
    expect(standIn.handlers.size).toBe(0);
  });

  it.each([
    ['a remote page', { url: 'https://evil.example/index.html' }],
    ['another local file', { url: pathToFileURL(path.resolve('/tmp/evil.html')).href }],
    [
      'a file next to the app page',
      { url: pathToFileURL(path.resolve('/opt/pm-mcp/renderer/dist/other.html')).href },
    ],
    ['an iframe inside the app page', { url: appPage.url, parent: { url: appPage.url } }],
    ['a data: URL', { url: 'data:text/html,<script>1</script>' }],
    ['a destroyed frame', null],
  ])('refuses a call from %s without reaching the services', async (_name, frame) => {
    register();
    const reply = await standIn.invoke(ipcChannel('revokeKey'), frame, 'key-1');
    expect(reply).toEqual({
      ok: false,
      error: { code: 'forbidden_sender', message: 'This page is not allowed to talk to PM MCP' },
    });
    expect(callsOf('revokeKey')).toHaveLength(0);
  });

  it('accepts the dev server origin only when the window is loaded from it', async () => {
    register({ kind: 'dev-server', url: 'http://127.0.0.1:5173/' });
    const dev = await standIn.invoke(ipcChannel('getState'), {
      url: 'http://127.0.0.1:5173/index.html',
    });
    expect(dev).toMatchObject({ ok: true });
    const file = await standIn.invoke(ipcChannel('getState'), appPage);
    expect(file).toMatchObject({ ok: false, error: { code: 'forbidden_sender' } });
    const otherPort = await standIn.invoke(ipcChannel('getState'), {
      url: 'http://127.0.0.1:5174/',
    });
    expect(otherPort).toMatchObject({ ok: false, error: { code: 'forbidden_sender' } });
  });

  it.each<[string, DesktopMethod, unknown[]]>([
    ['an unknown client', 'configureClient', ['notepad']],
    ['a client id of the wrong type', 'unconfigureClient', [42]],
    ['a missing argument', 'revokeKey', []],
    ['an empty key id', 'revokeKey', ['']],
    ['an extra argument', 'testProvider', ['p-1', 'extra']],
    ['arguments to a method that takes none', 'rotateKey', [{ force: true }]],
    [
      'a sign-in without a password',
      'signIn',
      [{ serverUrl: 'https://pm.example.com', email: 'a@b.c' }],
    ],
    [
      'a sign-in with an unknown field',
      'signIn',
      [{ serverUrl: 'https://pm.example.com', email: 'a@b.c', password: 'pw', admin: true }],
    ],
    [
      'an unknown provider type',
      'addProvider',
      [{ providerType: 'trello', name: 'x', baseUrl: 'https://x.example', apiToken: 't' }],
    ],
    ['a proxy port out of range', 'updateSettings', [{ proxyPort: 80 }]],
    ['key limits with an unknown field', 'setKeyLimits', ['key-1', { tools: ['get_issue'] }]],
    ['an empty tool allow-list', 'setKeyLimits', ['key-1', { allowedTools: [] }]],
    ['key limits without a key id', 'setKeyLimits', [{ allowedTools: ['get_issue'] }]],
    ['grant limits with an unknown field', 'setGrantLimits', ['g-1', { projects: ['c-1'] }]],
    ['an empty project allow-list', 'setGrantLimits', ['g-1', { allowedProjects: [] }]],
    ['grant limits without a grant id', 'setGrantLimits', [{ allowedTools: ['get_issue'] }]],
    ['an empty grant id', 'setGrantLimits', ['', { allowedTools: ['get_issue'] }]],
    ['a tool name that is not a string', 'setGrantLimits', ['g-1', { allowedTools: [42] }]],
    ['a fractional proxy port', 'updateSettings', [{ proxyPort: 8765.5 }]],
    ['a settings field that does not exist', 'updateSettings', [{ dataDir: '/' }]],
  ])(
    'refuses %s with invalid_argument, before the services see it',
    async (_name, method, args) => {
      register();
      const reply = await standIn.invoke(ipcChannel(method), appPage, ...args);
      expect(reply).toMatchObject({ ok: false, error: { code: 'invalid_argument' } });
      expect(callsOf(method)).toHaveLength(0);
    },
  );

  it('never repeats a refused value (a password) in the error message', async () => {
    register();
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const reply = (await standIn.invoke(ipcChannel('signIn'), appPage, {
      serverUrl: 'https://pm.example.com',
      email: 'ada@example.com',
      password,
      unexpected: password,
    })) as { error: { message: string } };
    expect(reply.error.message).not.toContain(password);
  });

  it('passes valid arguments through and returns the services’ answer', async () => {
    register();
    const reply = await standIn.invoke(ipcChannel('configureClient'), appPage, 'cursor');
    expect(reply).toMatchObject({ ok: true, value: { client: 'cursor', state: 'current' } });
    expect(callsOf('configureClient')).toEqual([{ method: 'configureClient', args: ['cursor'] }]);

    const signIn = {
      serverUrl: 'http://pm.internal:8080',
      email: 'ada@example.com',
      password: 'correct horse',
      createAccount: true,
      allowInsecure: true,
    };
    await standIn.invoke(ipcChannel('signIn'), appPage, signIn);
    expect(callsOf('signIn')).toEqual([{ method: 'signIn', args: [signIn] }]);

    // A grant's limits take the same shape as a key's: a list sets, null lifts, absent keeps.
    const limits = { allowedTools: ['get_issue', 'search_issues'], allowedProjects: null };
    const limited = await standIn.invoke(ipcChannel('setGrantLimits'), appPage, 'g-1', limits);
    expect(limited).toEqual({ ok: true, value: [] });
    expect(callsOf('setGrantLimits')).toEqual([
      { method: 'setGrantLimits', args: ['g-1', limits] },
    ]);
  });

  it('sends a desktop error as its code and message', async () => {
    register();
    core.failNext(
      'revokeKey',
      new DesktopError('not_found', 'That key does not exist (any more).'),
    );
    const reply = await standIn.invoke(ipcChannel('revokeKey'), appPage, 'gone');
    expect(reply).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'That key does not exist (any more).' },
    });
    expect(unexpected).toHaveLength(0);
  });

  it('sends an unexpected error as a generic message that leaks nothing, and reports it', async () => {
    register();
    core.failNext(
      'listKeys',
      new TypeError('Cannot read properties of undefined (secret mcp_abc)'),
    );
    const reply = (await standIn.invoke(ipcChannel('listKeys'), appPage)) as {
      ok: false;
      error: { code: string; message: string };
    };
    expect(reply.ok).toBe(false);
    expect(reply.error.code).toBe('internal');
    expect(reply.error.message).not.toMatch(/mcp_|undefined/);
    expect(unexpected.map((entry) => entry.method)).toEqual(['listKeys']);
  });
});
