import { randomBytes } from 'node:crypto';
import { FerryError } from '../errors/index.js';
import { type Digest, digestFromBytes } from '../model/index.js';
import { sha256 } from './hash.js';
import { FIXED_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_INDEX_FILE_SIZE } from './limits.js';
import { hex8, MAGIC } from './magic.js';

/**
 * The two chunk index formats. Both have a 4096-byte header:
 *
 *   .fidx: magic[8] uuid[16] ctime[i64 LE] csum[32] size[u64 LE] chunk_size[u64 LE] reserved…   then digest[32] × n
 *   .didx: magic[8] uuid[16] ctime[i64 LE] csum[32] reserved…                                  then (end[u64 LE] digest[32]) × n
 *
 * The header csum is what the manifest stores for the archive: fidx = SHA-256(digest₀‖digest₁‖…), didx =
 * SHA-256(end₀‖digest₀‖end₁‖digest₁‖…). Readers recompute it and never trust the stored one.
 */
export const INDEX_HEADER_SIZE = 4096;
const DIGEST_SIZE = 32;
const DYNAMIC_ENTRY_SIZE = 40;
const MIN_FIXED_CHUNK_SIZE = 4096;

export type IndexKind = 'fidx' | 'didx';

export interface ArchiveIndex {
  readonly kind: IndexKind;
  readonly uuid: Buffer;
  /** Creation time, epoch seconds. */
  readonly ctime: number;
  /** Number of chunks. */
  readonly count: number;
  /** Total plain bytes the index describes. */
  readonly size: number;
  /** The csum stored in the header (not trusted: compare with `csum()`). */
  readonly storedCsum: Buffer;
  digestAt(i: number): Digest;
  digestBytesAt(i: number): Buffer;
  /** Plain byte range [start, end) of chunk i. */
  chunkStart(i: number): number;
  chunkEnd(i: number): number;
  /** The csum recomputed from the entries: the value the manifest must hold. */
  csum(): Buffer;
}

function readSafeU64(buf: Buffer, offset: number, what: string): number {
  const v = buf.readBigUInt64LE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FerryError('FERRY_ERR_BAD_FORMAT', `${what} ${v} is absurdly large`);
  return Number(v);
}

function readSafeI64(buf: Buffer, offset: number, what: string): number {
  const v = buf.readBigInt64LE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new FerryError('FERRY_ERR_BAD_FORMAT', `${what} ${v} is out of range`);
  }
  return Number(v);
}

function checkHeader(buf: Buffer, magic: Buffer, what: string): void {
  if (buf.length < INDEX_HEADER_SIZE) {
    throw new FerryError(
      'FERRY_ERR_TRUNCATED',
      `${what} is ${buf.length} bytes, shorter than its ${INDEX_HEADER_SIZE}-byte header`,
    );
  }
  if (buf.length > MAX_INDEX_FILE_SIZE)
    throw new FerryError('FERRY_ERR_TOO_LARGE', `${what} is ${buf.length} bytes, too large`);
  if (!magic.equals(buf.subarray(0, 8)))
    throw new FerryError('FERRY_ERR_BAD_MAGIC', `bad ${what} magic ${hex8(buf)}`);
}

export class FixedIndex implements ArchiveIndex {
  readonly kind = 'fidx' as const;
  readonly uuid: Buffer;
  readonly ctime: number;
  readonly count: number;
  readonly size: number;
  readonly chunkSize: number;
  readonly storedCsum: Buffer;
  /** All digests, 32 bytes each. */
  readonly digests: Buffer;

  constructor(fields: {
    uuid: Buffer;
    ctime: number;
    size: number;
    chunkSize: number;
    digests: Buffer;
    storedCsum?: Buffer;
  }) {
    this.uuid = fields.uuid;
    this.ctime = fields.ctime;
    this.size = fields.size;
    this.chunkSize = fields.chunkSize;
    this.digests = fields.digests;
    this.count = fields.digests.length / DIGEST_SIZE;
    this.storedCsum = fields.storedCsum ?? this.csum();
  }

  digestBytesAt(i: number): Buffer {
    return this.digests.subarray(i * DIGEST_SIZE, (i + 1) * DIGEST_SIZE);
  }
  digestAt(i: number): Digest {
    return digestFromBytes(this.digestBytesAt(i));
  }
  chunkStart(i: number): number {
    return i * this.chunkSize;
  }
  chunkEnd(i: number): number {
    return Math.min((i + 1) * this.chunkSize, this.size);
  }
  csum(): Buffer {
    return sha256(this.digests);
  }
}

export class DynamicIndex implements ArchiveIndex {
  readonly kind = 'didx' as const;
  readonly uuid: Buffer;
  readonly ctime: number;
  readonly count: number;
  readonly size: number;
  readonly storedCsum: Buffer;
  /** The raw entries: (end u64 LE, digest[32]) × count. */
  readonly entries: Buffer;
  private readonly ends: Float64Array;

  constructor(fields: { uuid: Buffer; ctime: number; entries: Buffer; storedCsum?: Buffer }) {
    this.uuid = fields.uuid;
    this.ctime = fields.ctime;
    this.entries = fields.entries;
    this.count = fields.entries.length / DYNAMIC_ENTRY_SIZE;
    this.ends = new Float64Array(this.count);
    let previous = 0;
    for (let i = 0; i < this.count; i++) {
      const end = readSafeU64(this.entries, i * DYNAMIC_ENTRY_SIZE, `entry ${i} end offset`);
      const length = end - previous;
      if (length <= 0 || length > MAX_CHUNK_SIZE) {
        throw new FerryError(
          'FERRY_ERR_BAD_FORMAT',
          `entry ${i} has chunk length ${length} (end ${end} after ${previous})`,
        );
      }
      this.ends[i] = end;
      previous = end;
    }
    this.size = previous;
    this.storedCsum = fields.storedCsum ?? this.csum();
  }

  digestBytesAt(i: number): Buffer {
    const at = i * DYNAMIC_ENTRY_SIZE + 8;
    return this.entries.subarray(at, at + DIGEST_SIZE);
  }
  digestAt(i: number): Digest {
    return digestFromBytes(this.digestBytesAt(i));
  }
  chunkStart(i: number): number {
    return i === 0 ? 0 : (this.ends[i - 1] ?? 0);
  }
  chunkEnd(i: number): number {
    return this.ends[i] ?? 0;
  }
  csum(): Buffer {
    return sha256(this.entries);
  }
}

/** Parses and validates a `.fidx` file. */
export function parseFixedIndex(buf: Buffer): FixedIndex {
  checkHeader(buf, MAGIC.fixedIndex, 'fixed index');
  const size = readSafeU64(buf, 64, 'size');
  const chunkSize = readSafeU64(buf, 72, 'chunk size');
  if (chunkSize < MIN_FIXED_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new FerryError(
      'FERRY_ERR_BAD_FORMAT',
      `chunk size ${chunkSize} is not a power of two between 4 KiB and 16 MiB`,
    );
  }
  const count = Math.ceil(size / chunkSize);
  const bodyLength = buf.length - INDEX_HEADER_SIZE;
  if (bodyLength !== count * DIGEST_SIZE) {
    throw new FerryError(
      'FERRY_ERR_BAD_FORMAT',
      `fixed index of ${size} bytes in ${chunkSize}-byte chunks needs ${count} entries, the file holds ${bodyLength / DIGEST_SIZE}`,
    );
  }
  return new FixedIndex({
    uuid: Buffer.from(buf.subarray(8, 24)),
    ctime: readSafeI64(buf, 24, 'ctime'),
    storedCsum: Buffer.from(buf.subarray(32, 64)),
    size,
    chunkSize,
    digests: buf.subarray(INDEX_HEADER_SIZE),
  });
}

/** Parses and validates a `.didx` file. */
export function parseDynamicIndex(buf: Buffer): DynamicIndex {
  checkHeader(buf, MAGIC.dynamicIndex, 'dynamic index');
  const bodyLength = buf.length - INDEX_HEADER_SIZE;
  if (bodyLength % DYNAMIC_ENTRY_SIZE !== 0) {
    throw new FerryError(
      'FERRY_ERR_BAD_FORMAT',
      `dynamic index body of ${bodyLength} bytes is not a whole number of 40-byte entries`,
    );
  }
  return new DynamicIndex({
    uuid: Buffer.from(buf.subarray(8, 24)),
    ctime: readSafeI64(buf, 24, 'ctime'),
    storedCsum: Buffer.from(buf.subarray(32, 64)),
    entries: buf.subarray(INDEX_HEADER_SIZE),
  });
}

export function parseArchiveIndex(kind: IndexKind, buf: Buffer): ArchiveIndex {
  return kind === 'fidx' ? parseFixedIndex(buf) : parseDynamicIndex(buf);
}

function header(magic: Buffer, ctime: number, csum: Buffer, uuid: Buffer | undefined): Buffer {
  const h = Buffer.alloc(INDEX_HEADER_SIZE);
  magic.copy(h, 0);
  (uuid ?? randomBytes(16)).copy(h, 8);
  h.writeBigInt64LE(BigInt(ctime), 24);
  csum.copy(h, 32);
  return h;
}

export function encodeFixedIndex(fields: {
  ctime: number;
  size: number;
  digests: Buffer;
  chunkSize?: number;
  uuid?: Buffer;
}): Buffer {
  const chunkSize = fields.chunkSize ?? FIXED_CHUNK_SIZE;
  const index = new FixedIndex({
    uuid: fields.uuid ?? randomBytes(16),
    ctime: fields.ctime,
    size: fields.size,
    chunkSize,
    digests: fields.digests,
  });
  if (index.count !== Math.ceil(fields.size / chunkSize)) {
    throw new FerryError(
      'FERRY_ERR_BAD_FORMAT',
      `fixed index of ${fields.size} bytes needs ${Math.ceil(fields.size / chunkSize)} digests, got ${index.count}`,
    );
  }
  const h = header(MAGIC.fixedIndex, fields.ctime, index.csum(), index.uuid);
  h.writeBigUInt64LE(BigInt(fields.size), 64);
  h.writeBigUInt64LE(BigInt(chunkSize), 72);
  return Buffer.concat([h, fields.digests]);
}

/** `entries` is the raw body: (end u64 LE ‖ digest) × n. */
export function encodeDynamicIndex(fields: { ctime: number; entries: Buffer; uuid?: Buffer }): Buffer {
  const index = new DynamicIndex({
    uuid: fields.uuid ?? randomBytes(16),
    ctime: fields.ctime,
    entries: fields.entries,
  });
  return Buffer.concat([header(MAGIC.dynamicIndex, fields.ctime, index.csum(), index.uuid), fields.entries]);
}

/** Appends one dynamic index entry to a growing body. */
export function dynamicEntry(end: number, digest: Uint8Array): Buffer {
  const e = Buffer.allocUnsafe(DYNAMIC_ENTRY_SIZE);
  e.writeBigUInt64LE(BigInt(end), 0);
  e.set(digest, 8);
  return e;
}
