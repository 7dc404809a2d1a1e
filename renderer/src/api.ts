import type { DesktopApiError, PreloadApi } from '../../preload/contract';

declare global {
  interface Window {
    /** Exposed by the preload script (or, in the browser tests, by the test bridge's shim). */
    readonly pmMcp?: PreloadApi;
  }
}

/** The one way the window talks to the app: the preload API on `window.pmMcp`. */
export function getApi(): PreloadApi {
  const api = window.pmMcp;
  if (!api) {
    throw Object.assign(new Error('The app bridge is missing'), {
      code: 'bridge_missing',
    });
  }
  return api;
}

function isApiErrorShape(value: unknown): value is DesktopApiError {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.code === 'string' && typeof record.message === 'string';
}

/** Whatever a call rejected with, as the contract's `{code, message}` shape. */
export function toApiError(error: unknown): DesktopApiError {
  if (isApiErrorShape(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'internal', message: error.message };
  return { code: 'internal', message: 'Something went wrong.' };
}
