import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * API token secrets: generated here, shown once, stored only as a scrypt hash
 * (`scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`). Verifying costs tens of milliseconds on purpose; the server
 * caches successful verifications.
 */
const KEY_LENGTH = 32;
const DEFAULT_COST = { log2N: 15, r: 8, p: 1 };

function scryptAsync(
  secret: string,
  salt: Buffer,
  cost: { log2N: number; r: number; p: number },
): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A new secret: 32 random bytes as 64 hex characters. */
export function generateTokenSecret(): string {
  return randomBytes(32).toString('hex');
}

export async function hashTokenSecret(secret: string, cost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, cost);
  return `scrypt$${cost.log2N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `secret` matches `hash`; false for a wrong secret or a hash this code cannot read. */
export async function verifyTokenSecret(secret: string, hash: string): Promise<boolean> {
  const m = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return false;
  const cost = { log2N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.log2N < 10 || cost.log2N > 20 || cost.r < 1 || cost.r > 16 || cost.p < 1 || cost.p > 4)
    return false;
  const expected = Buffer.from(m[5] as string, 'base64');
  if (expected.length !== KEY_LENGTH) return false;
  const key = await scryptAsync(secret, Buffer.from(m[4] as string, 'base64'), cost);
  return timingSafeEqual(key, expected);
}
