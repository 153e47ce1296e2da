import type { TLSSocket } from 'node:tls';
import type { buildConnector as BuildConnector } from 'undici';
import { parseFingerprint } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import { buildConnector } from './undici.js';

/**
 * An undici connector that accepts a TLS connection only when the server's certificate has the pinned SHA-256
 * fingerprint (self-signed certificates cannot be verified by a chain). The check runs after the handshake and before
 * undici gets the socket, so on a mismatch not a single request byte is sent; the error names both fingerprints.
 */
export function pinnedConnector(fingerprint: string, connectTimeoutMs: number): BuildConnector.connector {
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
