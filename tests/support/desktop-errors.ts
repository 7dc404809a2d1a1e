import { DesktopError } from '../../main/errors.js';

/** The `DesktopError` a promise rejects with (anything else, or no rejection, fails the test). */
export async function desktopErrorOf(promise: Promise<unknown>): Promise<DesktopError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DesktopError) return error;
    throw error;
  }
  throw new Error('expected a DesktopError');
}
