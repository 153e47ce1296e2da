import { FerryError } from '../errors/index.js';
import {
  type ArchiveName,
  type BackupType,
  checkBackupTime,
  checkSafeId,
  MAX_GROUP_ID_LENGTH,
  parseArchiveName,
  parseBackupType,
  type SnapshotRef,
} from '../model/index.js';
import { decodeBlob, encodeBlob } from './data-blob.js';
import { sha256 } from './hash.js';

/**
 * The manifest `index.json.blob`: a DataBlob holding pretty-printed JSON that lists a snapshot's archives with their
 * size and csum. Everything but `unprotected` is covered by the (optional) signature; the server only ever changes
 * `unprotected` (verify state, notes).
 */
export type CryptMode = 'none' | 'encrypt' | 'sign-only';
const CRYPT_MODES: readonly CryptMode[] = ['none', 'encrypt', 'sign-only'];

export interface ManifestFile {
  readonly filename: ArchiveName;
  readonly cryptMode: CryptMode;
  readonly size: number;
  /** 64 lowercase hex characters. */
  readonly csum: string;
}

export interface Manifest {
  readonly backupType: BackupType;
  readonly backupId: string;
  readonly backupTime: number;
  readonly files: readonly ManifestFile[];
  readonly unprotected: Readonly<Record<string, unknown>>;
  readonly signature: string | null;
}

export type VerifyState = 'ok' | 'failed';

export const MAX_MANIFEST_SIZE = 16 * 1024 * 1024;
const MAX_MANIFEST_FILES = 4096;
const CSUM_RE = /^[0-9a-f]{64}$/;

function bad(detail: string): never {
  throw new FerryError('FERRY_ERR_BAD_FORMAT', `manifest: ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses manifest JSON (the decoded blob) and validates every field. */
export function parseManifestJson(json: Uint8Array): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
  } catch (err) {
    throw new FerryError('FERRY_ERR_BAD_FORMAT', `manifest: not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) bad('not a JSON object');
  const files = doc['files'];
  if (!Array.isArray(files)) bad('"files" is not a list');
  if (files.length > MAX_MANIFEST_FILES) bad(`more than ${MAX_MANIFEST_FILES} files`);
  const seen = new Set<string>();
  const parsedFiles = files.map((f, i): ManifestFile => {
    if (!isObject(f)) bad(`file ${i} is not an object`);
    const filename = parseArchiveName(f['filename']);
    if (seen.has(filename)) bad(`file ${filename} is listed twice`);
    seen.add(filename);
    const cryptMode = f['crypt-mode'] ?? 'none';
    if (!CRYPT_MODES.includes(cryptMode as CryptMode))
      bad(`file ${filename}: bad crypt-mode ${JSON.stringify(cryptMode)}`);
    if (!Number.isSafeInteger(f['size']) || (f['size'] as number) < 0)
      bad(`file ${filename}: bad size ${JSON.stringify(f['size'])}`);
    if (typeof f['csum'] !== 'string' || !CSUM_RE.test(f['csum'])) bad(`file ${filename}: bad csum`);
    return { filename, cryptMode: cryptMode as CryptMode, size: f['size'] as number, csum: f['csum'] };
  });
  const unprotected = doc['unprotected'] ?? {};
  if (!isObject(unprotected)) bad('"unprotected" is not an object');
  const signature = doc['signature'] ?? null;
  if (signature !== null && typeof signature !== 'string') bad('"signature" is not a string');
  return {
    backupType: parseBackupType(doc['backup-type']),
    backupId: checkSafeId('backup id', doc['backup-id'], MAX_GROUP_ID_LENGTH),
    backupTime: checkBackupTime(doc['backup-time']),
    files: parsedFiles,
    unprotected,
    signature,
  };
}

/** Pretty JSON with keys in sorted order (as serde_json writes a `Value`). */
export function encodeManifestJson(m: Manifest): Buffer {
  const doc = {
    'backup-id': m.backupId,
    'backup-time': m.backupTime,
    'backup-type': m.backupType,
    files: m.files.map((f) => ({
      'crypt-mode': f.cryptMode,
      csum: f.csum,
      filename: f.filename,
      size: f.size,
    })),
    signature: m.signature,
    unprotected: m.unprotected,
  };
  return Buffer.from(JSON.stringify(doc, null, 2), 'utf8');
}

export function parseManifestBlob(blob: Uint8Array): Manifest {
  return parseManifestJson(decodeBlob(blob, MAX_MANIFEST_SIZE));
}

export function encodeManifestBlob(m: Manifest): Buffer {
  return encodeBlob(encodeManifestJson(m));
}

export function manifestSnapshotMatches(m: Manifest, snapshot: SnapshotRef): boolean {
  return (
    m.backupType === snapshot.group.type && m.backupId === snapshot.group.id && m.backupTime === snapshot.time
  );
}

export function manifestVerifyState(m: Manifest): VerifyState | undefined {
  const vs = m.unprotected['verify_state'];
  if (!isObject(vs)) return undefined;
  return vs['state'] === 'ok' || vs['state'] === 'failed' ? vs['state'] : undefined;
}

/**
 * When the manifest's last verification ran (epoch seconds), read from its `verify_state.upid`: a PBS UPID
 * (`UPID:node:PID:PSTART:TASK:STARTTIME:type:id:auth:`, four 8-digit hex fields, the start time last, as PBS's
 * `outdated-after` reads it; a pull brings these along), a Ferry task id (`UPID:ferry:PID:STARTTIME:…`), or the
 * `verify:STORE:MS` ids Ferry wrote before (hex milliseconds). Undefined when there is no verification or its time
 * cannot be read.
 */
export function manifestVerifyTime(m: Manifest): number | undefined {
  const vs = m.unprotected['verify_state'];
  const upid = isObject(vs) ? vs['upid'] : undefined;
  if (typeof upid !== 'string') return undefined;
  const parts = upid.split(':');
  const hex = (i: number, digits: string) => new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(parts[i] ?? '');
  if (parts[0] === 'UPID' && parts.length >= 9 && [2, 3, 4, 5].every((i) => hex(i, '8')))
    return Number.parseInt(parts[5] as string, 16);
  if (parts[0] === 'UPID' && parts[1] === 'ferry' && hex(3, '1,12'))
    return Number.parseInt(parts[3] as string, 16);
  const legacy = /^verify:[^:]+:([0-9a-f]{1,13})$/.exec(upid);
  return legacy ? Math.floor(Number.parseInt(legacy[1] as string, 16) / 1000) : undefined;
}

/** Same protected content (everything but `unprotected`). */
export function sameProtectedContent(a: Manifest, b: Manifest): boolean {
  const strip = (m: Manifest) => encodeManifestJson({ ...m, unprotected: {} });
  return strip(a).equals(strip(b));
}

export function withUnprotected(m: Manifest, patch: Record<string, unknown>): Manifest {
  return { ...m, unprotected: { ...m.unprotected, ...patch } };
}

/** Chunks of an archive are encrypted iff the archive's crypt-mode is `encrypt` (sign-only chunks are plain). */
export function chunksEncrypted(file: ManifestFile): boolean {
  return file.cryptMode === 'encrypt';
}

/** SHA-256 (hex) of the manifest without its unprotected part: equal for the same archives, whatever verify or notes say. */
export function protectedCsum(m: Manifest): string {
  return sha256(encodeManifestJson({ ...m, unprotected: {} })).toString('hex');
}

/** Every archive is encrypted (the manifest itself and the client log do not count): PBS's `encrypted-only`. */
export function manifestEncrypted(m: Manifest): boolean {
  const archives = m.files.filter((f) => f.filename !== 'client.log.blob');
  return archives.length > 0 && archives.every((f) => f.cryptMode === 'encrypt');
}
