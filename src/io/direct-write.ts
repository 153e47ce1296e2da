import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { tmpPathFor } from './atomic-file.js';

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
 * page-aligned, so its 1 MiB slots are 4096-aligned; each piece is copied into a slot, written padded to a multiple
 * of 4096, and the file is truncated to its true length before the fsync. Data that already lies in memory from
 * `allocAligned` (chunk buffers) is written from where it is, with no copy. A file system that refuses O_DIRECT
 * (EINVAL on open or write: some FUSE and network file systems, older tmpfs) makes this throw with nothing left
 * behind; the caller (ChunkStore) then writes buffered from then on.
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

/**
 * `data` padded to whole blocks, in place, when its memory is from `allocAligned` and has room: the bytes between
 * its end and the next 4096 boundary are zeroed (a data view from allocAligned memory must not leave anything there
 * that matters: chunk buffers hold one blob each, from offset 0). Undefined when the data must be copied.
 */
function inPlace(data: Uint8Array): Uint8Array | undefined {
  const padded = Math.ceil(data.length / ALIGN) * ALIGN;
  if (!alignedMemory.has(data.buffer) || data.byteOffset % ALIGN !== 0) return undefined;
  if (data.byteOffset + padded > data.buffer.byteLength || padded === 0) return undefined;
  const whole = new Uint8Array(data.buffer, data.byteOffset, padded);
  whole.fill(0, data.length);
  return whole;
}

/** True when `err` says the file system (or device) does not take O_DIRECT as used here. */
export function isDirectUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

/**
 * Writes `data` (one buffer, or pieces in order) to a new temp file beside `path` with O_DIRECT, truncated to the
 * data's length and fsynced; returns its path. Throws the file system's error; on one that `isDirectUnsupported`
 * names, nothing is left behind and the caller may write the file buffered instead.
 */
export async function writeTmpDirect(
  path: string,
  data: Uint8Array | readonly Uint8Array[],
  mode = 0o644,
): Promise<string> {
  const parts = data instanceof Uint8Array ? [data] : data;
  const tmp = tmpPathFor(path);
  let fh: FileHandle;
  try {
    fh = await open(
      tmp,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DIRECT,
      mode,
    );
  } catch (err) {
    // A file system that refuses O_DIRECT may do so only after it created the file.
    if (isDirectUnsupported(err)) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const whole = parts.length === 1 ? inPlace(parts[0] as Uint8Array) : undefined;
  let slot: Uint8Array | undefined;
  try {
    let length: number;
    if (whole !== undefined) {
      length = (parts[0] as Uint8Array).length;
      await writeBlocks(fh, whole, whole.length, 0);
    } else {
      slots ??= new Slots();
      slot = await slots.take();
      length = await writePieces(fh, parts, slot);
    }
    await fh.truncate(length);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    if (slot !== undefined) slots?.give(slot);
  }
  await fh.close();
  return tmp;
}

/** Writes `length` bytes of `source` (a multiple of ALIGN, from aligned memory) at `fileOffset` with O_DIRECT. */
async function writeBlocks(
  fh: FileHandle,
  source: Uint8Array,
  length: number,
  fileOffset: number,
): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await fh.write(source, done, length - done, fileOffset + done);
    if (bytesWritten <= 0 || bytesWritten % ALIGN !== 0) throw shortWrite(bytesWritten);
    done += bytesWritten;
  }
}

/** Copies `parts` through `slot` a slot at a time, each written padded to ALIGN; returns the bytes of data. */
async function writePieces(fh: FileHandle, parts: readonly Uint8Array[], slot: Uint8Array): Promise<number> {
  let fileOffset = 0;
  let filled = 0;
  const flush = async () => {
    const padded = Math.ceil(filled / ALIGN) * ALIGN;
    slot.fill(0, filled, padded); // the tail past the data is truncated away; it never carries an older chunk's bytes
    await writeBlocks(fh, slot, padded, fileOffset);
    fileOffset += filled;
    filled = 0;
  };
  for (const part of parts) {
    for (let at = 0; at < part.length; ) {
      const n = Math.min(part.length - at, SLOT_SIZE - filled);
      slot.set(part.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === SLOT_SIZE) await flush();
    }
  }
  if (filled > 0) await flush();
  return fileOffset;
}

function shortWrite(bytesWritten: number): Error {
  return Object.assign(new Error(`direct write wrote ${bytesWritten} bytes, not whole blocks`), {
    code: 'EIO',
  });
}
