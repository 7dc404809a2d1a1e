import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { afterPack, electronBinaryPath } from '../../build/after-pack.js';

// The fuse wire as Electron ships it: a sentinel, the wire version, its length, one byte per
// fuse ('1' enabled, '0' disabled). Electron's defaults for the eight V1 fuses.
const sentinel = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const enabled = 0x31;
const disabled = 0x30;
const electronDefaults = [
  enabled,
  disabled,
  enabled,
  enabled,
  disabled,
  disabled,
  disabled,
  enabled,
];

let outDir: string;

function fakeElectronBinary(file: string): Buffer {
  const binary = Buffer.concat([
    Buffer.from('\x7fELF…machine code…'),
    Buffer.from(sentinel, 'ascii'),
    Buffer.from([1, electronDefaults.length, ...electronDefaults]),
    Buffer.from('…more machine code…'),
  ]);
  writeFileSync(file, binary);
  return binary;
}

beforeEach(() => {
  outDir = mkdtempSync(path.join(tmpdir(), 'pm-mcp-pack-'));
});
afterEach(() => rmSync(outDir, { recursive: true, force: true }));

describe('packaging: the afterPack hook', () => {
  it('flips the security fuses on the packed binary and touches nothing else', async () => {
    const binaryPath = path.join(outDir, 'pm-mcp');
    const before = fakeElectronBinary(binaryPath);
    await afterPack({
      appOutDir: outDir,
      electronPlatformName: 'linux',
      arch: 1,
      packager: { appInfo: { productFilename: 'PM MCP' }, executableName: 'pm-mcp' },
    });

    const wire = (await getCurrentFuseWire(binaryPath)) as unknown as Record<number, number>;
    expect(wire[FuseV1Options.RunAsNode]).toBe(disabled);
    expect(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(disabled);
    expect(wire[FuseV1Options.EnableNodeCliInspectArguments]).toBe(disabled);
    expect(wire[FuseV1Options.OnlyLoadAppFromAsar]).toBe(enabled);
    expect(wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(enabled);
    expect(wire[FuseV1Options.EnableCookieEncryption]).toBe(enabled);
    // The window is an ES module loaded from file://, which needs these privileges.
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(enabled);

    const after = readFileSync(binaryPath);
    expect(after.length).toBe(before.length);
    const wireStart = before.indexOf(sentinel) + sentinel.length + 2;
    const changed = [...after.keys()].filter((index) => after[index] !== before[index]);
    expect(changed.every((index) => index >= wireStart && index < wireStart + 8)).toBe(true);
  });

  it('finds the binary electron-builder produced on each platform', () => {
    const context = (platform: string) => ({
      appOutDir: '/out',
      electronPlatformName: platform,
      arch: 'x64',
      packager: { appInfo: { productFilename: 'PM MCP' }, executableName: 'pm-mcp' },
    });
    expect(electronBinaryPath(context('linux'))).toBe(path.join('/out', 'pm-mcp'));
    expect(electronBinaryPath(context('win32'))).toBe(path.join('/out', 'PM MCP.exe'));
    expect(electronBinaryPath(context('darwin'))).toBe(path.join('/out', 'PM MCP.app'));
  });
});
