import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  allocAligned,
  ChunkBuffers,
  isDirectUnsupported,
  isTmpName,
  writeTmp,
  writeTmpDirect,
} from '../../src/io/index.js';
import { seededBytes } from '../helpers/random.js';

const MIB = 1024 * 1024;

test('writeTmpDirect writes exactly the data, at any length and split into any pieces, as a temp file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-direct-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Lengths around the 4096-byte block and the 1 MiB staging slot, and a 4 MiB chunk blob with its 12-byte header.
  const lengths = [1, 4095, 4096, 4097, MIB - 1, MIB, MIB + 1, 4 * MIB + 12];
  for (const [i, length] of lengths.entries()) {
    const data = seededBytes(i + 1, length);
    // As one buffer, and as a header + body whose boundary is not a block or slot boundary.
    for (const parts of [data, [data.subarray(0, 12), data.subarray(12)]]) {
      const tmp = await writeTmpDirect(join(dir, `chunk-${length}`), parts);
      assert.ok(isTmpName(tmp.slice(dir.length + 1)), tmp);
      assert.equal((await stat(tmp)).size, length, `${length} bytes: no padding left in the file`);
      assert.ok((await readFile(tmp)).equals(data), `${length} bytes read back as written`);
      await rm(tmp);
    }
  }
});

test('writeTmpDirect writes data in aligned chunk memory from where it is, without touching that memory, and copies data anywhere else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-direct-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const buffers = new ChunkBuffers(1);
  for (const [i, length] of [1, 4095, 4096, 4097, MIB + 1, 4 * MIB + 12].entries()) {
    const data = seededBytes(200 + i, length);
    const padded = Math.ceil(length / 4096) * 4096;
    // Chunk memory (ChunkBuffers takes blobs of 64 KiB and more from allocAligned), and an aligned view inside
    // allocAligned memory.
    const blob = await buffers.take(length);
    const inner = allocAligned(3 * 4096 + padded).subarray(4096, 4096 + length);
    for (const view of length >= 65536 ? [blob, inner] : [inner]) {
      const memory = Buffer.from(view.buffer, view.byteOffset, view.buffer.byteLength - view.byteOffset);
      memory.fill(0xaa);
      data.copy(memory);
      const tmp = await writeTmpDirect(join(dir, `chunk-${length}`), view);
      assert.ok((await readFile(tmp)).equals(data), `${length} bytes read back as written`);
      // Written from where it lies, and that memory is left as it was (the last partial block goes through the page
      // cache: no padding to make, no truncation after).
      assert.ok(
        memory.subarray(length).every((b) => b === 0xaa),
        `${length}: memory past the data untouched`,
      );
      assert.equal((await stat(tmp)).size, length, `${length}: the file's size is the data's`);
      await rm(tmp);
    }
    buffers.give(blob);
    // Not on a block boundary (a view 12 bytes in): copied through a staging slot; its memory is left as it was.
    const shifted = allocAligned(padded + 4096).fill(0xaa);
    data.copy(shifted, 12);
    const tmp = await writeTmpDirect(join(dir, `shifted-${length}`), shifted.subarray(12, 12 + length));
    assert.ok((await readFile(tmp)).equals(data), `${length} bytes at offset 12 read back as written`);
    assert.equal(shifted[12 + length], 0xaa, `${length} bytes at offset 12: memory not padded`);
    await rm(tmp);
  }
});

test('writeTmpDirect and writeTmp call onWritten once the data is no longer read: memory overwritten then leaves the file intact', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-direct-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [i, length] of [4097, MIB + 1, 4 * MIB + 12].entries()) {
    const data = seededBytes(300 + i, length);
    const aligned = allocAligned(length);
    data.copy(aligned);
    const shifted = Buffer.from(allocAligned(length + 4096).buffer, 12, length);
    data.copy(shifted);
    // In place (aligned chunk memory), through the staging slots (a view 12 bytes in), in pieces, and buffered.
    const cases: [string, Uint8Array[], typeof writeTmpDirect][] = [
      ['in place', [aligned], writeTmpDirect],
      ['staged', [shifted], writeTmpDirect],
      ['pieces', [Buffer.from(data.subarray(0, 12)), Buffer.from(data.subarray(12))], writeTmpDirect],
      ['buffered', [Buffer.from(data)], writeTmp],
    ];
    for (const [how, parts, write] of cases) {
      let calls = 0;
      const tmp = await write(
        join(dir, `chunk-${how}-${length}`),
        parts.length === 1 ? (parts[0] as Uint8Array) : parts,
        0o644,
        () => {
          calls++;
          for (const p of parts) p.fill(0x55); // the caller reuses the memory at once
        },
      );
      assert.equal(calls, 1, `${how} ${length}: called once`);
      assert.ok((await readFile(tmp)).equals(data), `${how} ${length}: the file holds the data as it was`);
      await rm(tmp);
    }
  }
});

test('writeTmpDirect: more writes at once than staging slots all land intact; one it cannot create throws the error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-direct-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blobs = Array.from({ length: 12 }, (_, i) => seededBytes(100 + i, 2 * MIB + 1000 * i));
  const tmps = await Promise.all(blobs.map((b, i) => writeTmpDirect(join(dir, `c${i}`), b)));
  for (const [i, tmp] of tmps.entries()) assert.ok((await readFile(tmp)).equals(blobs[i] as Buffer));

  await assert.rejects(writeTmpDirect(join(dir, 'missing', 'c'), seededBytes(1, 5000)), { code: 'ENOENT' });
  assert.equal((await readdir(dir)).length, blobs.length, 'only the twelve temp files are there');
});

test('writeTmpDirect: a write the file system refuses halfway (file size limit) throws it and leaves no temp file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-direct-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'out'));
  // A real process under `ulimit -f 1024` (1 MiB): its second 1 MiB piece gets EFBIG (Node ignores SIGXFSZ).
  const script = join(dir, 'write.mts');
  const module = new URL('../../src/io/index.ts', import.meta.url).href;
  await writeFile(
    script,
    `import { writeTmpDirect } from ${JSON.stringify(module)};
try { await writeTmpDirect(${JSON.stringify(join(dir, 'out', 'chunk'))}, Buffer.alloc(3 * 1024 * 1024 + 5, 7)); console.log('written'); }
catch (err) { console.log(err.code); }`,
  );
  const { stdout } = await promisify(execFile)('bash', [
    '-c',
    `ulimit -f 1024 && exec "${process.execPath}" --import tsx "${script}"`,
  ]);
  assert.equal(stdout.trim(), 'EFBIG');
  assert.deepEqual(await readdir(join(dir, 'out')), [], 'the temp file was removed');
});

test('isDirectUnsupported names the errors of a file system that refuses O_DIRECT, and only those', () => {
  for (const code of ['EINVAL', 'EOPNOTSUPP', 'ENOTSUP'])
    assert.equal(isDirectUnsupported(Object.assign(new Error(code), { code })), true, code);
  for (const code of ['ENOSPC', 'EIO', 'ENOENT', 'EACCES'])
    assert.equal(isDirectUnsupported(Object.assign(new Error(code), { code })), false, code);
});
