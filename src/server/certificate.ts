import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { SECRET_FILE_MODE } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import { ensureDir, writeFileAtomic } from '../io/index.js';
import type { Clock } from '../model/index.js';

/**
 * The server's TLS certificate: self-signed, made on first start in `$FERRY_HOME` (`proxy.pem`, and `proxy.key` with
 * mode 0600, named as PBS names them). Clients pin its SHA-256 fingerprint, as PBS remotes do.
 */
export interface ServerCertificate {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate, lowercase colon hex (`ab:cd:…`, 32 bytes). */
  fingerprint: string;
  certPath: string;
  validFrom: string;
  validTo: string;
}

const VALID_YEARS = 10;

export function certificatePaths(home: string): { cert: string; key: string } {
  return { cert: join(home, 'proxy.pem'), key: join(home, 'proxy.key') };
}

/** The fingerprint of a PEM certificate as PBS prints and stores it. */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.toLowerCase();
}

/** Reads the certificate; FERRY_ERR_NOT_FOUND when there is none yet. */
export async function readCertificate(home: string): Promise<ServerCertificate> {
  const paths = certificatePaths(home);
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8')]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FerryError(
        'FERRY_ERR_NOT_FOUND',
        `no server certificate in ${home} (ferry serve makes one)`,
        {
          fields: { path: paths.cert },
        },
      );
    }
    throw err;
  }
  const x509 = new X509Certificate(cert);
  return {
    cert,
    key,
    fingerprint: x509.fingerprint256.toLowerCase(),
    certPath: paths.cert,
    validFrom: x509.validFrom,
    validTo: x509.validTo,
  };
}

/**
 * Reads the certificate, or makes one (EC P-256, SHA-256, valid for ten years, names: this host, localhost,
 * 127.0.0.1, ::1). The key is written first, mode 0600, then the certificate.
 */
export async function ensureCertificate(home: string, clock: Clock): Promise<ServerCertificate> {
  try {
    return await readCertificate(home);
  } catch (err) {
    if (!(err instanceof FerryError && err.code === 'FERRY_ERR_NOT_FOUND')) throw err;
  }
  const notBefore = new Date(clock.now() - 60_000);
  const notAfter = new Date(notBefore.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALID_YEARS);
  const host = hostname();
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: host },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const paths = certificatePaths(home);
  await ensureDir(home);
  await writeFileAtomic(paths.key, Buffer.from(pems.private), { mode: SECRET_FILE_MODE });
  await writeFileAtomic(paths.cert, Buffer.from(pems.cert));
  return readCertificate(home);
}
