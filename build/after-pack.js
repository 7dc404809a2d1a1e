// electron-builder `afterPack` hook: flips the Electron fuses on the packed binary before it is
// signed (reference/security.md). A fuse is a bit in the binary itself, so a packaged app cannot
// be turned back into a general-purpose Node runtime by an environment variable or a flag.
import path from 'node:path';
import { flipFuses, FuseV1Options, FuseVersion } from '@electron/fuses';

/** @param {string} arch electron-builder's arch name */
export function fuseConfig(platform, arch) {
  return {
    version: FuseVersion.V1,
    // Flipping fuses invalidates the ad-hoc signature Apple silicon binaries carry.
    resetAdHocDarwinSignature: platform === 'darwin' && arch === 'arm64',
    [FuseV1Options.RunAsNode]: false,
    [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
    [FuseV1Options.EnableNodeCliInspectArguments]: false,
    [FuseV1Options.OnlyLoadAppFromAsar]: true,
    [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
    [FuseV1Options.EnableCookieEncryption]: true,
    [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
    // Kept on: the window is loaded from file:// as an ES module, which needs file:// privileges.
    [FuseV1Options.GrantFileProtocolExtraPrivileges]: true,
  };
}

/** Where electron-builder put the Electron binary for this platform. */
export function electronBinaryPath(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  const name = packager.appInfo.productFilename;
  switch (electronPlatformName) {
    case 'darwin':
    case 'mas':
      return path.join(appOutDir, `${name}.app`);
    case 'win32':
      return path.join(appOutDir, `${name}.exe`);
    default:
      return path.join(appOutDir, packager.executableName ?? name);
  }
}

const archNames = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

export async function afterPack(context) {
  const arch = typeof context.arch === 'number' ? archNames[context.arch] : context.arch;
  const binary = electronBinaryPath(context);
  await flipFuses(binary, fuseConfig(context.electronPlatformName, arch));
  console.log(`  • fuses flipped  file=${path.relative(process.cwd(), binary)}`);
}

export default afterPack;
