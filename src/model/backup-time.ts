import { invalid } from './safe-id.js';

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC, seconds, literal Z) into epoch seconds; rejects impossible dates. */
export function parseBackupTime(value: unknown): number {
  if (typeof value !== 'string') invalid('backup time', value, 'not a string');
  const m = TIME_RE.exec(value);
  if (!m) invalid('backup time', value, 'expected YYYY-MM-DDTHH:MM:SSZ');
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (y < 1970 || formatBackupTime(ms / 1000) !== value)
    invalid('backup time', value, 'not a real UTC time after 1970');
  return ms / 1000;
}

/** Epoch seconds → `YYYY-MM-DDTHH:MM:SSZ`. */
export function formatBackupTime(epochSeconds: number): string {
  if (!Number.isSafeInteger(epochSeconds) || epochSeconds < 0 || epochSeconds > 253402300799) {
    invalid('backup time', epochSeconds, 'expected whole epoch seconds between 1970 and 9999');
  }
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function checkBackupTime(epochSeconds: unknown): number {
  if (typeof epochSeconds !== 'number') invalid('backup time', epochSeconds, 'not a number');
  formatBackupTime(epochSeconds);
  return epochSeconds;
}
