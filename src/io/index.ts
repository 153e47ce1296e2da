/**
 * io — file-system primitives every writer shares: atomic replace and create (temp file, fsync, rename or link,
 * directory fsync), temp files written past the page cache (writeTmpDirect), temp-file naming, tolerant directory
 * reads, whole-file reads into reused chunk memory (ChunkBuffers, BufferRecycler), a bound on work in flight
 * (TaskWindow), file locks that hold between threads and processes (open-file-description locks), where a worker
 * pool's module is, a thread pool that never stops a thread while it loads (ThreadPool),
 * and Ferry's version from package.json.
 *
 * Invariant: a file written through here is either absent, the old content, or the whole new content — never a mix.
 * Must not: know about datastores, configs or any Ferry format.
 */
export {
  createFileAtomic,
  ensureDir,
  exists,
  fsyncDir,
  isTmpName,
  readdirOrEmpty,
  tmpPathFor,
  writeFileAtomic,
  writeTmp,
} from './atomic-file.js';
export { BufferRecycler } from './buffer-recycler.js';
export { ChunkBuffers } from './chunk-buffers.js';
export { allocAligned, isDirectUnsupported, writeTmpDirect } from './direct-write.js';
export { DirectCalls, makeDirs, readAt, renamePath } from './file-calls.js';
export {
  acquireLock,
  Lock,
  type LockMode,
  type LockOptions,
  tryAcquireLock,
  tryLockFd,
  unlockFd,
} from './locks.js';
export { FERRY_VERSION } from './package-version.js';
export { type BufferSource, readWhole } from './read-whole.js';
export { TaskWindow } from './task-window.js';
export { ThreadPool } from './thread-pool.js';
export { workerFile } from './worker-file.js';
