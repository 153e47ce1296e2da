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
 * of 4096, and the file is truncated to its true length before the fsync. A file system that refuses O_DIRECT
 * (EINVAL on open or write: some FUSE and network file systems, older tmpfs) makes this throw with nothing left
 * behind; the caller (ChunkStore) then writes buffered from then on.
 */

// The one piece of the WebAssembly API used here (Node has it; the DOM library that types it is not loaded).
declare const WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };

const ALIGN = 4096;
const SLOT_SIZE = 1024 * 1024;
const SLOTS = 4;

/** Page-aligned 1 MiB staging slots of this thread, made on first use (4 MiB of memory per writing thread). */
class Slots {
  private readonly free: Uint8Array[];
  private readonly waiters: (() => void)[] = [];

  constructor() {
    const memory = new WebAssembly.Memory({ initial: (SLOTS * SLOT_SIZE) / 65536 });
    this.free = Array.from(
      { length: SLOTS },
      (_, i) => new Uint8Array(memory.buffer, i * SLOT_SIZE, SLOT_SIZE),
    );
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
  slots ??= new Slots();
  const slot = await slots.take();
  try {
    const length = await writePieces(fh, parts, slot);
    await fh.truncate(length);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    slots.give(slot);
  }
  await fh.close();
  return tmp;
}

/** Copies `parts` through `slot` a slot at a time, each written padded to ALIGN; returns the bytes of data. */
async function writePieces(fh: FileHandle, parts: readonly Uint8Array[], slot: Uint8Array): Promise<number> {
  let fileOffset = 0;
  let filled = 0;
  const flush = async () => {
    const padded = Math.ceil(filled / ALIGN) * ALIGN;
    slot.fill(0, filled, padded); // the tail past the data is truncated away; it never carries an older chunk's bytes
    for (let done = 0; done < padded; ) {
      const { bytesWritten } = await fh.write(slot, done, padded - done, fileOffset + done);
      if (bytesWritten <= 0 || bytesWritten % ALIGN !== 0) throw shortWrite(bytesWritten);
      done += bytesWritten;
    }
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
