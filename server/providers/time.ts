/** Time spent, as both APIs take it: bounds, Jira's `started`, ISO 8601 durations (OpenProject). */
import { ProviderValidationError } from './errors.js';

/** At least a minute (Jira refuses less), at most a week in one entry (a typo guard). */
export function assertTimeSpent(seconds: number): void {
  if (!Number.isFinite(seconds) || seconds < 60) {
    throw new ProviderValidationError('Log at least one minute (60 seconds) of work.', {
      fieldErrors: { timeSpentSeconds: 'at least 60' },
    });
  }
  if (seconds > 7 * 24 * 3600) {
    throw new ProviderValidationError('Log at most a week (604800 seconds) of work at once.', {
      fieldErrors: { timeSpentSeconds: 'at most 604800' },
    });
  }
}

const datePattern = /^\d{4}-\d{2}-\d{2}$/;

/** A `YYYY-MM-DD` or ISO date-time → a Date; refuses anything else with a clear error. */
function parseStarted(value: string): Date {
  const date = datePattern.test(value) ? new Date(`${value}T12:00:00.000Z`) : new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new ProviderValidationError(
      `"${value}" is not a date (YYYY-MM-DD) or an ISO 8601 date-time.`,
      { fieldErrors: { started: 'not a date' } },
    );
  }
  return date;
}

/**
 * Jira's `started`: exactly `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (`…T12:00:00.000+0000`); an ISO string
 * ending in `Z` is refused. A bare date is logged at noon UTC, which is the same calendar day
 * everywhere from UTC-11 to UTC+11.
 */
export function jiraStarted(started: string | undefined, now: Date = new Date()): string {
  const value = started?.trim();
  const date = value ? parseStarted(value) : now;
  return date.toISOString().replace('Z', '+0000');
}

/** OpenProject's `spentOn` (a date): the date as written, or today (UTC). */
export function spentOnDate(started: string | undefined, now: Date = new Date()): string {
  const value = started?.trim();
  if (!value) return now.toISOString().slice(0, 10);
  parseStarted(value);
  return value.slice(0, 10);
}

/** Seconds → an ISO 8601 duration as OpenProject writes hours (`PT1H30M`). */
export function isoDuration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `PT${hours > 0 ? `${hours}H` : ''}${rest > 0 || hours === 0 ? `${rest}M` : ''}`;
}

/** An ISO 8601 duration (`PT1H30M`, `PT1.5H`, `P1DT2H`) → seconds; undefined when it is not one. */
export function secondsOfDuration(duration: string): number | undefined {
  const match =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      duration,
    );
  if (!match || duration === 'P' || duration === 'PT') return undefined;
  const [, days, hours, minutes, seconds] = match;
  return Math.round(
    Number(days ?? 0) * 86_400 +
      Number(hours ?? 0) * 3_600 +
      Number(minutes ?? 0) * 60 +
      Number(seconds ?? 0),
  );
}
