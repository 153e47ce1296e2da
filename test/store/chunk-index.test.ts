import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestOf } from '../../src/model/index.js';
import { ChunkIndex } from '../../src/store/index.js';
import { tempDir } from '../helpers/world.js';

/** How many memory maps of `file` this process holds (Linux: /proc/self/maps). */
async function mapsOf(file: string): Promise<number> {
  const maps = await readFile('/proc/self/maps', 'utf8');
  return maps.split('\n').filter((line) => line.endsWith(` ${file}`)).length;
}

// lmdb-js grows a map by adding a larger one and keeping the old until close; two threads growing it at once can
// later unmap memory that is not theirs (chunk-index.ts, INDEX_MAP_SIZE). The index must never grow its map in use.
test('the chunk index maps its file once, at full size, however much it holds', {
  skip: existsSync('/proc/self/maps') ? false : 'needs /proc/self/maps (Linux)',
}, async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'index');
  const index = ChunkIndex.open(path);
  t.after(() => index.close());
  const entry = { encodedSize: 1, plainSize: 1, lastUsed: Date.now(), insertedBy: 0 };
  for (let batch = 0; batch < 30; batch++) {
    const puts: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      puts.push(index.put(digestOf(Buffer.from(`chunk ${batch * 1000 + i}`)), entry));
    }
    await Promise.all(puts);
  }
  const data = join(path, 'data.mdb');
  // Past the sizes lmdb-js would have grown through from its 128 KiB start (256 KiB, 512 KiB, 1 MiB, …).
  assert.ok((await stat(data)).size > 2 * 1024 * 1024, 'the index holds more than 2 MiB');
  assert.equal(await mapsOf(data), 1, 'one map of the index file: it never grew');
  assert.equal(index.count(), 30_000);
});
