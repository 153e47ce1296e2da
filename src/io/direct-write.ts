import { constants as fsConstants } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpPathFor } from './atomic-file.js';
import { closeFd, fsyncFd, openFd, writeAt, writeSmall } from './file-calls.js';

/**
 * Temp files written with O_DIRECT: the bytes go from a small, reused, page-aligned staging area straight to the
 * device, not through the page cache. Chunk files are the bulk of what Ferry writes, and a buffered write costs a
 * copy into page-cache memory the kernel must first find; on a virtual machine whose freed memory goes back to the
 * host, that memory is new to the guest every time and the copy costs several times the write itself (measured:
 * 600 MiB of 4 MiB files, buffered 0.25–1.6 s of system time, direct 0.1 s). Chunks are written once and read
 * seldom, so keeping them out of the page cache also leaves it to the data that is read again (indexes, the
 * operator's own files).
 *
 * O_DIRECT wants memory, offsets and lengths aligned to the device's block size. WebAssembly memory is allocated
 * page-aligned, so its 1 MiB slots are 4096-aligned. The whole blocks of the data go direct; the last partial
 * block (the file's tail, under 4096 bytes) is written through the page cache by a second descriptor, and the
 * fsync then writes it with the file's metadata. (Writing the tail padded and truncating the file to its length
 * made ext4 read that block back from the device to zero the rest of it, synchronously, inside the truncate: a
 * device read per chunk file, and the block written again by the fsync.) Data that already lies in memory from
 * `allocAligned` (chunk buffers) is written from where it is, with no copy and nothing in that memory changed. A
 * file system that refuses O_DIRECT (EINVAL on open or write: some FUSE and network file systems, older tmpfs) makes
 * this throw with nothing left behind; the caller (ChunkStore) then writes buffered from then on.
 */

// The one piece of the WebAssembly API used here (Node has it; the DOM library that types it is not loaded).
declare const WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };

const ALIGN = 4096;
const SLOT_SIZE = 1024 * 1024;
const SLOTS = 4;

// Memory handed out by allocAligned (each ArrayBuffer starts on a page).
const alignedMemory = new WeakSet<ArrayBufferLike>();

/**
 * A buffer of `size` bytes (rounded up to 64 KiB) whose memory starts on a page boundary, so O_DIRECT can write from
 * it as it is. Its memory is its own (one WebAssembly memory each; zeroed, and committed by the kernel as it is
 * touched); a view of it that starts on a 4096 boundary is written by `writeTmpDirect` without a copy.
 */
export function allocAligned(size: number): Buffer {
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(size / 65536)) });
  alignedMemory.add(memory.buffer);
  return Buffer.from(memory.buffer, 0, size);
}

/** Page-aligned 1 MiB staging slots of this thread, made on first use (4 MiB of memory per writing thread). */
class Slots {
  private readonly free: Uint8Array[];
  private readonly waiters: (() => void)[] = [];

  constructor() {
    const memory = allocAligned(SLOTS * SLOT_SIZE);
    this.free = Array.from({ length: SLOTS }, (_, i) => memory.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE));
  }

  async take(): Promise<Uint8Array> {
    for (;;) {
      const slot = this.free.pop();
      if (slot !== undefined) return slot;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  give(slot: Uint8Array): void {
    this.free.push(slot);
    this.waiters.shift()?.();
  }
}

let slots: Slots | undefined;

/** True when `data` lies in `allocAligned` memory from a block boundary: its whole blocks go direct from there. */
function inPlace(data: Uint8Array): boolean {
  return alignedMemory.has(data.buffer) && data.byteOffset % ALIGN === 0;
}

/** True when `err` says the file system (or device) does not take O_DIRECT as used here. */
export function isDirectUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

/**
 * Writes `data` (one buffer, or pieces in order) to a new temp file beside `path` with O_DIRECT, truncated to the
 * data's length and fsynced; returns its path. Throws the file system's error; on one that `isDirectUnsupported`
 * names, nothing is left behind and the caller may write the file buffered instead. `onWritten` is called as soon as
 * `data` is no longer read (its bytes are on their way to the device), before the fsync: the caller may reuse it.
 */
export async function writeTmpDirect(
  path: string,
  data: Uint8Array | readonly Uint8Array[],
  mode = 0o644,
  onWritten?: () => void,
): Promise<string> {
  const parts = data instanceof Uint8Array ? [data] : data;
  const tmp = tmpPathFor(path);
  let fd: number;
  try {
    fd = await openFd(
      tmp,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DIRECT,
      mode,
    );
  } catch (err) {
    // A file system that refuses O_DIRECT may do so only after it created the file.
    if (isDirectUnsupported(err)) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const single = parts.length === 1 ? (parts[0] as Uint8Array) : undefined;
  let slot: Uint8Array | undefined;
  try {
    let tail: Uint8Array;
    let tailOffset: number;
    if (single !== undefined && inPlace(single)) {
      tailOffset = single.length - (single.length % ALIGN);
      await writeBlocks(fd, single, tailOffset, 0);
      tail = single.subarray(tailOffset);
    } else {
      slots ??= new Slots();
      slot = await slots.take();
      ({ tail, tailOffset } = await writePieces(fd, parts, slot));
    }
    if (tail.length > 0) await writeTail(tmp, tail, tailOffset);
    onWritten?.(); // `data` is no longer read: the rest is the file system's
    await fsyncFd(fd); // the inode's: the direct blocks, the tail in the page cache, the size
  } catch (err) {
    await closeFd(fd).catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    if (slot !== undefined) slots?.give(slot);
  }
  await closeFd(fd);
  return tmp;
}

/** Writes `length` bytes of `source` (a multiple of ALIGN, from aligned memory) at `fileOffset` with O_DIRECT. */
async function writeBlocks(
  fd: number,
  source: Uint8Array,
  length: number,
  fileOffset: number,
): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await writeAt(fd, source, done, length - done, fileOffset + done);
    if (bytesWritten <= 0 || bytesWritten % ALIGN !== 0) throw shortWrite(bytesWritten, 'not whole blocks');
    done += bytesWritten;
  }
}

/** Writes the file's last partial block through the page cache (a descriptor without O_DIRECT). */
async function writeTail(tmp: string, tail: Uint8Array, offset: number): Promise<void> {
  const fd = await openFd(tmp, fsConstants.O_WRONLY);
  try {
    for (let done = 0; done < tail.length; ) {
      const bytesWritten = await writeSmall(fd, tail.subarray(done), offset + done);
      if (bytesWritten <= 0) throw shortWrite(bytesWritten);
      done += bytesWritten;
    }
  } finally {
    await closeFd(fd);
  }
}

/**
 * Copies `parts` through `slot` a slot at a time and writes each slot's whole blocks direct; returns the last
 * partial block (a view of the slot, valid until the slot is given back) and its offset in the file.
 */
async function writePieces(
  fd: number,
  parts: readonly Uint8Array[],
  slot: Uint8Array,
): Promise<{ tail: Uint8Array; tailOffset: number }> {
  let fileOffset = 0;
  let filled = 0;
  for (const part of parts) {
    for (let at = 0; at < part.length; ) {
      const n = Math.min(part.length - at, SLOT_SIZE - filled);
      slot.set(part.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === SLOT_SIZE) {
        await writeBlocks(fd, slot, SLOT_SIZE, fileOffset);
        fileOffset += SLOT_SIZE;
        filled = 0;
      }
    }
  }
  const whole = filled - (filled % ALIGN);
  await writeBlocks(fd, slot, whole, fileOffset);
  return { tail: slot.subarray(whole, filled), tailOffset: fileOffset + whole };
}

function shortWrite(bytesWritten: number, why = 'nothing'): Error {
  return Object.assign(new Error(`a chunk file write wrote ${bytesWritten} bytes: ${why}`), {
    code: 'EIO',
  });
}
