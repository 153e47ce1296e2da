/**
 * Reads a datastore Ferry wrote with its own byte-level parser, built only from docs/FORMAT.md (it does not use
 * src/format), and checks every rule that page states: magics derived from their strings, CRCs, header fields,
 * entry counts, csum and size rules, chunk names and paths.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { decompress } from 'zstd-napi';
import { ferryJson, ROOT } from '../helpers/cli.js';
import { compressibleBytes, seededBytes } from '../helpers/random.js';
import { tempDir } from '../helpers/world.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** The magic table of docs/FORMAT.md §2: checks each row's bytes against SHA-256 of its string, returns name → bytes. */
async function magicsFromDoc(): Promise<Map<string, Buffer>> {
  const doc = await readFile(join(ROOT, 'docs', 'FORMAT.md'), 'utf8');
  const magics = new Map<string, Buffer>();
  for (const m of doc.matchAll(/^\| ([a-z ,-]+) \| `(Proxmox Backup [^`]+)` \| ([\d ]+) \|$/gm)) {
    const [, name, source, bytes] = m as unknown as [string, string, string, string];
    const listed = Buffer.from(bytes.trim().split(/\s+/).map(Number));
    assert.deepEqual(
      sha256(Buffer.from(source, 'ascii')).subarray(0, 8),
      listed,
      `magic of ${name} is SHA-256("${source}")[0..8]`,
    );
    magics.set(name.trim(), listed);
  }
  assert.equal(magics.size, 6, 'docs/FORMAT.md lists six magics');
  return magics;
}

function readBlob(bytes: Buffer, magics: Map<string, Buffer>): { kind: string; data: Buffer } {
  const magic = bytes.subarray(0, 8);
  const kind = [...magics].find(([, m]) => m.equals(magic))?.[0];
  assert.ok(
    kind === 'uncompressed blob' || kind === 'zstd-compressed blob',
    `plain blob magic, got ${magic.toString('hex')}`,
  );
  assert.equal(
    bytes.readUInt32LE(8),
    crc32(bytes.subarray(12)) >>> 0,
    'CRC-32 of the bytes after the 12-byte header',
  );
  const body = bytes.subarray(12);
  const data = kind === 'uncompressed blob' ? body : decompress(body);
  if (kind === 'zstd-compressed blob') assert.ok(body.length < data.length, 'compressed only when smaller');
  return { kind, data };
}

test('files Ferry writes follow docs/FORMAT.md byte for byte', async (t) => {
  const magics = await magicsFromDoc();
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const storeDir = join(dir, 'store');
  await ferryJson(home, ['datastore', 'create', 'conform', storeDir]);
  const image = Buffer.concat([seededBytes(1, 9 * 1024 * 1024 + 7), compressibleBytes(2, 3 * 1024 * 1024)]);
  await writeFile(join(dir, 'disk.raw'), image);
  await writeFile(join(dir, 'vm.conf'), 'memory: 2048\n');
  const tree = join(dir, 'tree');
  await ferryJson(home, ['namespace', 'create', 'conform', 'prod']);
  await (await import('node:fs/promises')).mkdir(join(tree, 'sub'), { recursive: true });
  await writeFile(join(tree, 'sub', 'file.bin'), seededBytes(3, 3 * 1024 * 1024));
  await ferryJson(home, [
    'backup',
    'conform',
    'vm/100',
    `drive-scsi0.img:${join(dir, 'disk.raw')}`,
    `root.tar:${tree}`,
    `qemu.conf:${join(dir, 'vm.conf')}`,
    '--ns',
    'prod',
    '--time',
    '2026-01-01T00:00:00Z',
  ]);

  const snapDir = join(storeDir, 'ns', 'prod', 'vm', '100', '2026-01-01T00:00:00Z');
  assert.equal(await readFile(join(storeDir, 'ns', 'prod', 'vm', '100', 'owner'), 'utf8'), 'root@pam\n');
  const manifest = JSON.parse(
    readBlob(await readFile(join(snapDir, 'index.json.blob')), magics).data.toString('utf8'),
  );
  assert.deepEqual(Object.keys(manifest), [
    'backup-id',
    'backup-time',
    'backup-type',
    'files',
    'signature',
    'unprotected',
  ]);
  assert.equal(manifest['backup-type'], 'vm');
  assert.equal(manifest['backup-id'], '100');
  assert.equal(manifest['backup-time'], Date.UTC(2026, 0, 1) / 1000);
  assert.equal(manifest.signature, null);
  assert.deepEqual(manifest.files.map((f: { filename: string }) => f.filename).sort(), [
    'drive-scsi0.img.fidx',
    'qemu.conf.blob',
    'root.tar.didx',
  ]);

  const expectedChunks = new Map<string, number>(); // digest → plain length
  for (const file of manifest.files as {
    filename: string;
    'crypt-mode': string;
    size: number;
    csum: string;
  }[]) {
    assert.deepEqual(Object.keys(file), ['crypt-mode', 'csum', 'filename', 'size']);
    assert.equal(file['crypt-mode'], 'none');
    const bytes = await readFile(join(snapDir, file.filename));
    if (file.filename.endsWith('.fidx')) {
      assert.deepEqual(bytes.subarray(0, 8), magics.get('fixed index'));
      const size = Number(bytes.readBigUInt64LE(64));
      const chunkSize = Number(bytes.readBigUInt64LE(72));
      assert.equal(chunkSize, 4 * 1024 * 1024);
      assert.equal(size, image.length);
      assert.ok(
        bytes.subarray(80, 4096).every((b) => b === 0),
        'reserved header bytes are zero',
      );
      const n = Math.ceil(size / chunkSize);
      assert.equal(bytes.length, 4096 + 32 * n, 'entry count matches size');
      const csum = sha256(bytes.subarray(4096));
      assert.equal(csum.toString('hex'), file.csum, 'fidx csum = SHA-256 of the digests');
      assert.deepEqual(bytes.subarray(32, 64), csum, 'header csum');
      assert.equal(file.size, size);
      for (let i = 0; i < n; i++) {
        expectedChunks.set(
          bytes.subarray(4096 + 32 * i, 4096 + 32 * (i + 1)).toString('hex'),
          Math.min(chunkSize, size - i * chunkSize),
        );
      }
    } else if (file.filename.endsWith('.didx')) {
      assert.deepEqual(bytes.subarray(0, 8), magics.get('dynamic index'));
      assert.ok(bytes.subarray(64, 4096).every((b) => b === 0));
      assert.equal((bytes.length - 4096) % 40, 0);
      let previous = 0;
      for (let at = 4096; at < bytes.length; at += 40) {
        const end = Number(bytes.readBigUInt64LE(at));
        assert.ok(end > previous && end - previous <= 16 * 1024 * 1024, 'ends increase, chunks ≤ 16 MiB');
        expectedChunks.set(bytes.subarray(at + 8, at + 40).toString('hex'), end - previous);
        previous = end;
      }
      const csum = sha256(bytes.subarray(4096));
      assert.equal(csum.toString('hex'), file.csum, 'didx csum = SHA-256 over end‖digest entries');
      assert.deepEqual(bytes.subarray(32, 64), csum);
      assert.equal(file.size, previous, 'didx size = last end');
    } else {
      assert.equal(file.size, bytes.length, 'blob size = file length');
      assert.equal(sha256(bytes).toString('hex'), file.csum, 'blob csum = SHA-256 of the file');
      assert.equal(readBlob(bytes, magics).data.toString(), 'memory: 2048\n');
    }
  }

  for (const [digest, length] of expectedChunks) {
    const bytes = await readFile(join(storeDir, '.chunks', digest.slice(0, 4), digest));
    const { data } = readBlob(bytes, magics);
    assert.equal(data.length, length, `chunk ${digest.slice(0, 8)} has the length its index gives`);
    assert.equal(
      sha256(data).toString('hex'),
      digest,
      `chunk ${digest.slice(0, 8)} is named by the SHA-256 of its plain bytes`,
    );
  }
  const onDisk = (await readdir(join(storeDir, '.chunks'))).length;
  assert.ok(onDisk > 0 && onDisk <= expectedChunks.size);
});
