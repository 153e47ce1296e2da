/**
 * format — bytes ↔ objects for PBS's on-disk formats: DataBlob (chunks and `.blob` files), the fixed and dynamic
 * chunk indexes, the manifest, plus the content-defined chunker and the hash/CRC/zstd helpers.
 *
 * Everything here is pure and synchronous: functions take bytes and return values or throw a typed FerryError
 * (FERRY_ERR_BAD_MAGIC, _BAD_CRC, _TRUNCATED, _BAD_FORMAT, _DIGEST_MISMATCH, _SIZE_MISMATCH, _TOO_LARGE…) whose
 * detail names the field or value; the caller adds the file or chunk as context. Layouts: docs/FORMAT.md.
 *
 * Must not: touch the file system or the network, or know where bytes came from.
 */
export {
  type ArchiveIndex,
  DynamicIndex,
  dynamicEntry,
  encodeDynamicIndex,
  encodeFixedIndex,
  FixedIndex,
  INDEX_HEADER_SIZE,
  type IndexKind,
  parseArchiveIndex,
  parseDynamicIndex,
  parseFixedIndex,
} from './archive-index.js';
export { chunkProof } from './chunk-proof.js';
export { Chunker, type ChunkerOptions, DYNAMIC_CHUNKING } from './chunker.js';

export {
  BLOB_HEADER_SIZE,
  type BlobKind,
  type BlobParts,
  blobHeaderSize,
  blobKind,
  type ChunkCheck,
  checkBlob,
  decodeBlob,
  ENCRYPTED_BLOB_HEADER_SIZE,
  encodeBlob,
  encodeBlobInPlace,
  encodeBlobParts,
  isEncryptedKind,
  verifyChunk,
} from './data-blob.js';
export { crc32, sha256 } from './hash.js';
export {
  FIXED_CHUNK_SIZE,
  MAX_BLOB_SIZE,
  MAX_CHUNK_SIZE,
  MAX_ENCODED_CHUNK_SIZE,
  MAX_INDEX_FILE_SIZE,
} from './limits.js';
export { MAGIC, MAGIC_SOURCE, type MagicName } from './magic.js';
export {
  type CryptMode,
  chunksEncrypted,
  encodeManifestBlob,
  encodeManifestJson,
  MAX_MANIFEST_SIZE,
  type Manifest,
  type ManifestFile,
  manifestEncrypted,
  manifestSnapshotMatches,
  manifestVerifyState,
  manifestVerifyTime,
  parseManifestBlob,
  parseManifestJson,
  protectedCsum,
  sameProtectedContent,
  type VerifyState,
  withUnprotected,
} from './manifest.js';
export { zstdFrameContentSize } from './zstd.js';
