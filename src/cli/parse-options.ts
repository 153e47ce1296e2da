import { FerryError } from '../errors/index.js';

/**
 * An option's value read by the parser its configuration file uses (a calendar event, a maintenance mode, a node
 * setting), so the command line and the file accept the same; a refusal is a usage error naming the option.
 */
export function parseOption<T>(name: string, value: string, parse: (value: string) => T): T {
  try {
    return parse(value);
  } catch (err) {
    throw new FerryError('FERRY_ERR_USAGE', `${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function parseIntOption(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new FerryError(
      'FERRY_ERR_USAGE',
      `${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `0`, `90s`, `30m`, `24h5m`, `2d` → milliseconds. */
export function parseDurationOption(name: string, value: string): number {
  if (value === '0') return 0;
  const parts = [...value.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw new FerryError(
      'FERRY_ERR_USAGE',
      `${name} must be a duration like 30m, 24h5m or 0, not ${JSON.stringify(value)}`,
    );
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNIT_MS[p[2] as string] as number), 0);
}
