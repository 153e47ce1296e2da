import { createHash } from 'node:crypto';
import { FerryError } from '../errors/index.js';
import { type Digest, shortDigest } from '../model/index.js';
import { crc32 } from './hash.js';
import { MAX_BLOB_SIZE } from './limits.js';
import { hex8, MAGIC, type MagicName, magicName } from './magic.js';
import { zstdCompressBound, zstdCompressInto, zstdDecompressBounded, zstdDecompressEach } from './zstd.js';

/**
 * DataBlob: the container of every chunk and every `.blob` file.
 *
 *   plain:     magic[8] crc32[4 LE] data                       (header 12 bytes)
 *   encrypted: magic[8] crc32[4 LE] iv[16] tag[16] ciphertext   (header 44 bytes)
 *
 * The CRC covers the bytes after the header. Encrypted blobs are carried byte-exact: Ferry recognises them, checks
 * their CRC, and never decodes them.
 */
export type BlobKind = 'uncompressed' | 'compressed' | 'encrypted' | 'encrypted-compressed';

export const BLOB_HEADER_SIZE = 12;
export const ENCRYPTED_BLOB_HEADER_SIZE = 44;
const ZSTD_LEVEL = 1;

const KIND_OF_MAGIC: Partial<Record<MagicName, BlobKind>> = {
  uncompressedBlob: 'uncompressed',
  compressedBlob: 'compressed',
  encryptedBlob: 'encrypted',
  encryptedCompressedBlob: 'encrypted-compressed',
};

export function isEncryptedKind(kind: BlobKind): boolean {
  return kind === 'encrypted' || kind === 'encrypted-compressed';
}

export function blobHeaderSize(kind: BlobKind): number {
  return isEncryptedKind(kind) ? ENCRYPTED_BLOB_HEADER_SIZE : BLOB_HEADER_SIZE;
}

/** Reads the magic; checks the blob is at least as long as its header. Does not check the CRC. */
export function blobKind(blob: Uint8Array): BlobKind {
  if (blob.length < 8)
    throw new FerryError('FERRY_ERR_TRUNCATED', `blob is ${blob.length} bytes, shorter than a magic number`);
  const name = magicName(blob);
  const kind = name === undefined ? undefined : KIND_OF_MAGIC[name];
  if (kind === undefined) throw new FerryError('FERRY_ERR_BAD_MAGIC', `bad blob magic ${hex8(blob)}`);
  const header = blobHeaderSize(kind);
  if (blob.length < header) {
    throw new FerryError(
      'FERRY_ERR_TRUNCATED',
      `${kind} blob is ${blob.length} bytes, shorter than its ${header}-byte header`,
    );
  }
  return kind;
}

/** Checks magic, length and CRC; returns the kind. Runs on every blob read from disk or the network. */
export function checkBlob(blob: Uint8Array): BlobKind {
  const kind = blobKind(blob);
  if (blob.length > MAX_BLOB_SIZE + ENCRYPTED_BLOB_HEADER_SIZE) {
    throw new FerryError('FERRY_ERR_TOO_LARGE', `blob is ${blob.length} bytes, more than ${MAX_BLOB_SIZE}`);
  }
  const stored = Buffer.from(blob.buffer, blob.byteOffset, blob.length).readUInt32LE(8);
  const actual = crc32(blob.subarray(blobHeaderSize(kind)));
  if (stored !== actual) {
    throw new FerryError(
      'FERRY_ERR_BAD_CRC',
      `blob has wrong CRC-32 (stored ${hex32(stored)}, computed ${hex32(actual)})`,
    );
  }
  return kind;
}

/** A blob as the pieces to write (no copy of large plain data): their concatenation is the DataBlob file. */
export interface BlobParts {
  parts: Uint8Array[];
  length: number;
}

// Per-thread scratch space for compression output, so encoding a chunk does not allocate megabytes each time.
let scratch: Buffer | undefined;

/**
 * Encodes plain data as an unencrypted DataBlob in pieces: zstd level 1, kept only when it is smaller than the plain
 * data, else the uncompressed magic and the plain bytes themselves (not copied).
 */
export function encodeBlobParts(plain: Uint8Array, options: { compress?: boolean } = {}): BlobParts {
  checkPlainSize(plain);
  if (options.compress !== false && plain.length > 0) {
    const n = compressToScratch(plain);
    if (n < plain.length) {
      const blob = Buffer.allocUnsafe(BLOB_HEADER_SIZE + n);
      (scratch as Buffer).copy(blob, BLOB_HEADER_SIZE, 0, n);
      return { parts: [finishHeader(blob, MAGIC.compressedBlob)], length: blob.length };
    }
  }
  const header = Buffer.allocUnsafe(BLOB_HEADER_SIZE);
  MAGIC.uncompressedBlob.copy(header, 0);
  header.writeUInt32LE(crc32(plain), 8);
  return { parts: [header, plain], length: BLOB_HEADER_SIZE + plain.length };
}

/**
 * Encodes, in place, the plain data that `framed` holds after BLOB_HEADER_SIZE bytes of room: the header goes into
 * that room, and zstd level 1 output, when smaller, over the plain bytes. Returns the blob, a view of `framed` from
 * its start, so a buffer with room for the header becomes a blob without a copy of the data (when stored
 * uncompressed) or with one of the smaller compressed bytes. The plain data is gone afterwards.
 */
export function encodeBlobInPlace(framed: Uint8Array): Buffer {
  const buf = Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
  const plain = buf.subarray(BLOB_HEADER_SIZE);
  checkPlainSize(plain);
  if (plain.length > 0) {
    const n = compressToScratch(plain);
    if (n < plain.length) {
      (scratch as Buffer).copy(buf, BLOB_HEADER_SIZE, 0, n);
      return finishHeader(buf.subarray(0, BLOB_HEADER_SIZE + n), MAGIC.compressedBlob);
    }
  }
  return finishHeader(buf, MAGIC.uncompressedBlob);
}

function checkPlainSize(plain: Uint8Array): void {
  if (plain.length > MAX_BLOB_SIZE)
    throw new FerryError(
      'FERRY_ERR_TOO_LARGE',
      `blob data is ${plain.length} bytes, more than ${MAX_BLOB_SIZE}`,
    );
}

/** Compresses `plain` into this thread's scratch buffer; returns the compressed length. */
function compressToScratch(plain: Uint8Array): number {
  const bound = zstdCompressBound(plain.length);
  if (scratch === undefined || scratch.length < bound) scratch = Buffer.allocUnsafeSlow(bound);
  return zstdCompressInto(scratch, plain, ZSTD_LEVEL);
}

/** Encodes plain data as one DataBlob buffer (see encodeBlobParts). */
export function encodeBlob(plain: Uint8Array, options: { compress?: boolean } = {}): Buffer {
  const { parts, length } = encodeBlobParts(plain, options);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length);
}

function finishHeader(blob: Buffer, magic: Buffer): Buffer {
  magic.copy(blob, 0);
  blob.writeUInt32LE(crc32(blob.subarray(BLOB_HEADER_SIZE)), 8);
  return blob;
}

/** Checks the blob and returns its plain bytes (at most `maxSize`). Encrypted blobs throw FERRY_ERR_ENCRYPTED. */
export function decodeBlob(blob: Uint8Array, maxSize: number = MAX_BLOB_SIZE): Buffer {
  const kind = checkBlob(blob);
  return decodeChecked(blob, kind, maxSize);
}

function decodeChecked(blob: Uint8Array, kind: BlobKind, maxSize: number): Buffer {
  if (isEncryptedKind(kind))
    throw new FerryError('FERRY_ERR_ENCRYPTED', 'blob is encrypted; Ferry carries it but cannot decode it');
  const body = blob.subarray(BLOB_HEADER_SIZE);
  if (kind === 'uncompressed') {
    if (body.length > maxSize)
      throw new FerryError('FERRY_ERR_TOO_LARGE', `blob holds ${body.length} bytes, more than ${maxSize}`);
    return Buffer.from(body.buffer, body.byteOffset, body.length);
  }
  return zstdDecompressBounded(body, maxSize);
}

/**
 * Hands the plain bytes of a checked, unencrypted blob of `kind` to `onPiece` (synchronously, in order; a piece's
 * memory may be reused once it returns) and returns their length, at most `maxSize`. Compressed blobs are decoded
 * piece by piece, never held whole: for callers that only hash the content (verification, proofs of possession).
 */
export function eachPlainPiece(
  blob: Uint8Array,
  kind: BlobKind,
  maxSize: number,
  onPiece: (piece: Uint8Array) => void,
): number {
  if (kind !== 'compressed') {
    const plain = decodeChecked(blob, kind, maxSize);
    onPiece(plain);
    return plain.length;
  }
  return zstdDecompressEach(blob.subarray(BLOB_HEADER_SIZE), maxSize, onPiece);
}

export interface ChunkCheck {
  kind: BlobKind;
  /** Plain length; undefined for encrypted chunks (not decodable without the key). */
  plainSize: number | undefined;
}

/**
 * Verifies a chunk blob against what its index says: CRC, crypt mode (encrypted or not), and for plain chunks the
 * SHA-256 of the decoded bytes against `digest` and their length against `expectedSize` (when known). Without an
 * expected size, `maxSize` bounds the decoded length (a chunk received from a peer: MAX_CHUNK_SIZE).
 */
export function verifyChunk(
  blob: Uint8Array,
  digest: Digest,
  options: { expectedSize?: number | undefined; encrypted?: boolean; maxSize?: number } = {},
): ChunkCheck {
  const kind = checkBlob(blob);
  const encrypted = isEncryptedKind(kind);
  if (options.encrypted !== undefined && encrypted !== options.encrypted) {
    throw new FerryError(
      'FERRY_ERR_CRYPT_MODE_MISMATCH',
      `chunk is ${encrypted ? 'encrypted' : 'not encrypted'} but its index says ${options.encrypted ? 'encrypted' : 'plain'}`,
    );
  }
  if (encrypted) return { kind, plainSize: undefined };
  const limit = options.expectedSize ?? options.maxSize ?? MAX_BLOB_SIZE;
  const hash = createHash('sha256');
  const size = eachPlainPiece(blob, kind, limit, (piece) => hash.update(piece));
  const actual = hash.digest('hex') as Digest;
  if (options.expectedSize !== undefined && size !== options.expectedSize) {
    throw new FerryError(
      'FERRY_ERR_SIZE_MISMATCH',
      `chunk is ${size} bytes, its index says ${options.expectedSize}`,
    );
  }
  if (actual !== digest) {
    throw new FerryError('FERRY_ERR_DIGEST_MISMATCH', 'digest mismatch', {
      fields: { expected: digest, actual: shortDigest(actual) },
    });
  }
  return { kind, plainSize: size };
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
