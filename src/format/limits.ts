/** Size limits shared by the formats, the store and the API. */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** A chunk's encoded size may exceed its plain size by a header (44 bytes at most). */
export const MAX_ENCODED_CHUNK_SIZE = MAX_CHUNK_SIZE + 44;
export const MAX_BLOB_SIZE = 128 * 1024 * 1024;
/** Index files above this are refused (about 4 PiB of fixed 4 MiB chunks). */
export const MAX_INDEX_FILE_SIZE = 1024 * 1024 * 1024;
export const FIXED_CHUNK_SIZE = 4 * 1024 * 1024;
