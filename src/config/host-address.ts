import { isIP } from 'node:net';
import { FerryError } from '../errors/index.js';

/** A host and port to listen on or connect to. */
export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/;

/** A DNS name or an IP address (IPv6 without brackets). */
export function parseHost(value: unknown): string {
  if (typeof value === 'string' && (isIP(value) !== 0 || HOSTNAME_RE.test(value))) return value;
  throw new FerryError(
    'FERRY_ERR_INVALID_VALUE',
    `invalid host ${JSON.stringify(value)}: expected a DNS name or an IP address`,
    {
      fields: { what: 'host' },
    },
  );
}

export function parsePort(value: unknown, options: { allowZero?: boolean } = {}): number {
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  const min = options.allowZero ? 0 : 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > 65535) {
    throw new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `invalid port ${JSON.stringify(value)}: expected ${min} to 65535`,
      {
        fields: { what: 'port' },
      },
    );
  }
  return n;
}

/** `HOST:PORT`, `[IPv6]:PORT`, or a bare host (then `defaultPort`). Port 0 means "any free port". */
export function parseHostPort(value: string, defaultPort: number): HostPort {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    const [, host, port] = bracketed as unknown as [string, string, string | undefined];
    if (isIP(host) !== 6) parseHost(`[${host}]`);
    return { host, port: port === undefined ? defaultPort : parsePort(port, { allowZero: true }) };
  }
  const colon = value.lastIndexOf(':');
  if (colon >= 0 && value.indexOf(':') === colon) {
    return {
      host: parseHost(value.slice(0, colon)),
      port: parsePort(value.slice(colon + 1), { allowZero: true }),
    };
  }
  return { host: parseHost(value), port: defaultPort };
}

/** True for 127.0.0.0/8, ::1 and `localhost`: the addresses plain HTTP is allowed on. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return /^::ffff:127\./i.test(host);
}

/** The host as it goes into a URL (IPv6 in brackets). */
export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
