import type { FuseV1Config } from '@electron/fuses';

export interface AfterPackContext {
  appOutDir: string;
  electronPlatformName: string;
  /** electron-builder's `Arch` enum value (0 ia32, 1 x64, 2 armv7l, 3 arm64, 4 universal). */
  arch: number | string;
  packager: { appInfo: { productFilename: string }; executableName?: string };
}

export function fuseConfig(platform: string, arch: string | undefined): FuseV1Config;
export function electronBinaryPath(context: AfterPackContext): string;
export function afterPack(context: AfterPackContext): Promise<void>;
export default afterPack;
