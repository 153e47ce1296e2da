import type { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import { FerryError } from '../errors/index.js';

const FINGERPRINT_RE = /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/;

/** Checks and lowercases a certificate fingerprint (SHA-256, colon hex, as PBS stores it). */
export function parseFingerprint(value: string): string {
  const fp = value.trim().toLowerCase();
  if (!FINGERPRINT_RE.test(fp)) {
    throw new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `invalid certificate fingerprint ${JSON.stringify(value)}: expected 32 colon-separated hex bytes`,
      {
        fields: { what: 'fingerprint' },
      },
    );
  }
  return fp;
}

/**
 * An undici connector that accepts a TLS connection only when the server's certificate has the pinned SHA-256
 * fingerprint (self-signed certificates cannot be verified by a chain). The check runs after the handshake and before
 * undici gets the socket, so on a mismatch not a single request byte is sent; the error names both fingerprints.
 */
export function pinnedConnector(fingerprint: string, connectTimeoutMs: number): buildConnector.connector {
  const expected = parseFingerprint(fingerprint);
  const connect = buildConnector({
    rejectUnauthorized: false,
    timeout: connectTimeoutMs,
    maxCachedSessions: 0,
  });
  return (options, callback) => {
    connect(options, (err, socket) => {
      if (err !== null) {
        callback(err, null);
        return;
      }
      const actual = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256?.toLowerCase();
      if (actual !== expected) {
        socket.destroy();
        callback(
          new FerryError(
            'FERRY_ERR_TLS_FINGERPRINT',
            `certificate of ${options.hostname}:${options.port} has fingerprint ${actual ?? '(none)'}, expected ${expected}`,
            { fields: { expected, actual: actual ?? null } },
          ),
          null,
        );
        return;
      }
      callback(null, socket);
    });
  };
}
