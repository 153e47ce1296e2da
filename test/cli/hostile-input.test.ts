import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { encodeBlob } from '../../src/format/index.js';
import { type FerryRun, ferry, ferryJson } from '../helpers/cli.js';
import { seededBytes } from '../helpers/random.js';
import { describeTree } from '../helpers/tree.js';
import { tempDir } from '../helpers/world.js';

const SNAP = 'vm/100/2026-01-01T00:00:00Z';

async function world(t: TestContext) {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const store = join(dir, 'store');
  await ferryJson(home, ['datastore', 'create', 'store1', store]);
  await writeFile(join(dir, 'disk.raw'), seededBytes(1, 5 * 1024 * 1024));
  await writeFile(join(dir, 'vm.conf'), 'cores: 2\n');
  await writeFile(join(dir, 'tree.txt'), 'x');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'tree'));
  await writeFile(join(dir, 'tree', 'f'), seededBytes(2, 100_000));
  await ferryJson(home, [
    'backup',
    'store1',
    'vm/100',
    `drive.img:${join(dir, 'disk.raw')}`,
    `root.tar:${join(dir, 'tree')}`,
    `vm.conf:${join(dir, 'vm.conf')}`,
    '--time',
    '2026-01-01T00:00:00Z',
  ]);
  // One read first, so the lock files every reader creates exist before the "before" picture.
  await ferryJson(home, ['snapshots', 'store1']);
  const snapDir = join(store, 'vm', '100', '2026-01-01T00:00:00Z');
  return { dir, home, store, snapDir };
}

/** The datastore's files, without lock files and lmdb's reader table (runtime state, not data). */
async function picture(store: string) {
  return (await describeTree(store)).filter(
    (e) => !e.path.startsWith('.ferry/locks') && e.path !== '.ferry/index/lock.mdb',
  );
}

function assertFailed(run: FerryRun, code: number, pattern: RegExp, what: string) {
  assert.equal(run.code, code, `${what}: exit ${run.code}, stderr: ${run.stderr}`);
  assert.match(run.stderr, pattern, what);
}

test('bad names and values on the command line get exit 2 naming the value, and change nothing', async (t) => {
  const { dir, home, store } = await world(t);
  const before = await picture(store);
  const file = join(dir, 'vm.conf');
  const cases: [string[], RegExp][] = [
    [['backup', 'store1', 'vm/..', `a.conf:${file}`], /invalid group id "\.\."/],
    [['backup', 'store1', 'vm/', `a.conf:${file}`], /invalid group id "": empty/],
    [['backup', 'store1', `vm/${'x'.repeat(300)}`, `a.conf:${file}`], /invalid group id .*longer than 128/],
    [['backup', 'store1', 'disk/1', `a.conf:${file}`], /invalid backup type "disk"/],
    [['backup', 'store1', 'vm/1', `../evil.conf:${file}`], /invalid archive name/],
    [['backup', 'store1', 'vm/1', `a/b.conf:${file}`], /invalid archive name/],
    [['backup', 'store1', 'vm/1', `a.exe:${file}`], /the name must end in \.img, \.tar or \.conf/],
    [
      ['backup', 'store1', 'vm/1', `a.conf:${file}`, '--time', '2026-02-30T00:00:00Z'],
      /invalid backup time "2026-02-30T00:00:00Z"/,
    ],
    [
      ['backup', 'store1', 'vm/1', `a.conf:${file}`, '--time', 'yesterday'],
      /invalid backup time "yesterday"/,
    ],
    [['backup', 'store1', 'vm/1', `a.conf:${file}`, '--ns', 'a/../b'], /invalid namespace component "\.\."/],
    [['backup', 'store1', 'vm/1', `a.conf:${file}`, '--ns', '/etc'], /invalid namespace component "": empty/],
    [
      ['restore', 'store1', 'vm/100/not-a-time', 'drive.img', join(dir, 'o')],
      /invalid backup time "not-a-time"/,
    ],
    [['restore', 'store1', SNAP, '../../etc/passwd', join(dir, 'o')], /invalid archive name/],
    [['datastore', 'create', '../x', join(dir, 'x')], /invalid datastore name "\.\.\/x"/],
    [['datastore', 'create', '', join(dir, 'x')], /invalid datastore name "": empty/],
    [['snapshots', '../../etc'], /invalid datastore name/],
    [['gc', 'store1', '--grace', 'soon'], /--grace must be a duration/],
  ];
  for (const [args, pattern] of cases) assertFailed(await ferry(home, args), 2, pattern, args.join(' '));
  assert.deepEqual(await picture(store), before);
});

test('corrupt index, blob and manifest files fail restore with the file named, exit non-zero, and are left as they are', async (t) => {
  const { dir, home, store, snapDir } = await world(t);
  const fidx = join(snapDir, 'drive.img.fidx');
  const didx = join(snapDir, 'root.tar.didx');
  const blob = join(snapDir, 'vm.conf.blob');
  const manifest = join(snapDir, 'index.json.blob');
  const originals = new Map<string, Buffer>();
  for (const f of [fidx, didx, blob, manifest]) originals.set(f, await readFile(f));
  const orig = (f: string) => Buffer.from(originals.get(f) as Buffer);
  const patched = (f: string, patch: (b: Buffer) => void) => {
    const b = orig(f);
    patch(b);
    return b;
  };
  const cases: { name: string; file: string; bytes: Buffer; archive: string; pattern: RegExp }[] = [
    {
      name: 'truncated fidx',
      file: fidx,
      bytes: orig(fidx).subarray(0, 1000),
      archive: 'drive.img',
      pattern: /archive drive\.img\.fidx: fixed index is 1000 bytes, shorter than its 4096-byte header/,
    },
    {
      name: 'garbage fidx',
      file: fidx,
      bytes: seededBytes(9, 4096 + 64),
      archive: 'drive.img',
      pattern: /archive drive\.img\.fidx: bad fixed index magic/,
    },
    {
      name: 'fidx entry count',
      file: fidx,
      bytes: Buffer.concat([orig(fidx), Buffer.alloc(32)]),
      archive: 'drive.img',
      pattern:
        /archive drive\.img\.fidx: fixed index of \d+ bytes in 4194304-byte chunks needs 2 entries, the file holds 3/,
    },
    {
      name: 'absurd fidx size',
      file: fidx,
      bytes: patched(fidx, (b) => b.writeBigUInt64LE(2n ** 60n, 64)),
      archive: 'drive.img',
      pattern: /archive drive\.img\.fidx: size \d+ is absurdly large/,
    },
    {
      name: 'fidx digest changed',
      file: fidx,
      bytes: patched(fidx, (b) => {
        b[4100] = (b[4100] ?? 0) ^ 1;
      }),
      archive: 'drive.img',
      pattern: /archive drive\.img\.fidx: index does not match the manifest/,
    },
    {
      name: 'didx partial entry',
      file: didx,
      bytes: orig(didx).subarray(0, orig(didx).length - 3),
      archive: 'root.tar',
      pattern:
        /archive root\.tar\.didx: dynamic index body of \d+ bytes is not a whole number of 40-byte entries/,
    },
    {
      name: 'didx wrong magic',
      file: didx,
      bytes: patched(didx, (b) => b.fill(0, 0, 8)),
      archive: 'root.tar',
      pattern: /archive root\.tar\.didx: bad dynamic index magic 0000000000000000/,
    },
    {
      name: 'blob bad crc',
      file: blob,
      bytes: patched(blob, (b) => {
        b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0xff;
      }),
      archive: 'vm.conf',
      pattern: /archive vm\.conf\.blob: wrong checksum/,
    },
    {
      name: 'manifest truncated',
      file: manifest,
      bytes: orig(manifest).subarray(0, 5),
      archive: 'vm.conf',
      pattern: /file index\.json\.blob: blob is 5 bytes, shorter than a magic number/,
    },
    {
      name: 'manifest bad crc',
      file: manifest,
      bytes: patched(manifest, (b) => {
        b[20] = (b[20] ?? 0) ^ 1;
      }),
      archive: 'vm.conf',
      pattern: /file index\.json\.blob: blob has wrong CRC-32/,
    },
    {
      name: 'manifest not json',
      file: manifest,
      bytes: encodeBlob(Buffer.from('{"files": [')),
      archive: 'vm.conf',
      pattern: /file index\.json\.blob: manifest: not JSON/,
    },
    {
      name: 'manifest absurd size',
      file: manifest,
      bytes: encodeBlob(
        Buffer.from(
          JSON.stringify({
            'backup-type': 'vm',
            'backup-id': '100',
            'backup-time': 1767225600,
            files: [{ filename: 'vm.conf.blob', size: 1e300, csum: 'a'.repeat(64) }],
          }),
        ),
      ),
      archive: 'vm.conf',
      pattern: /file index\.json\.blob: manifest: file vm\.conf\.blob: bad size/,
    },
    {
      name: 'manifest for another snapshot',
      file: manifest,
      bytes: encodeBlob(
        Buffer.from(
          JSON.stringify({ 'backup-type': 'vm', 'backup-id': '999', 'backup-time': 1767225600, files: [] }),
        ),
      ),
      archive: 'vm.conf',
      pattern: /file index\.json\.blob: manifest describes vm\/999\//,
    },
  ];
  for (const c of cases) {
    await writeFile(c.file, c.bytes);
    const before = await picture(store);
    const run = await ferry(home, [
      'restore',
      'store1',
      SNAP,
      c.archive,
      join(dir, `out-${c.name.replace(/ /g, '-')}`),
    ]);
    assert.notEqual(run.code, 0, `${c.name}: restore must fail`);
    assertFailed(run, run.code as number, new RegExp(`snapshot ${SNAP}: ${c.pattern.source}`), c.name);
    assert.deepEqual(await picture(store), before, `${c.name}: nothing changed on disk`);
    await writeFile(c.file, originals.get(c.file) as Buffer);
  }
});

test('a corrupt chunk fails restore and verify with the chunk named, and verify moves it aside', async (t) => {
  const { dir, home, store } = await world(t);
  const index = await readFile(join(store, 'vm', '100', '2026-01-01T00:00:00Z', 'drive.img.fidx'));
  const digest = index.subarray(4096, 4128).toString('hex');
  const chunkPath = join(store, '.chunks', digest.slice(0, 4), digest);
  const chunk = await readFile(chunkPath);
  chunk[chunk.length - 1] = (chunk[chunk.length - 1] ?? 0) ^ 1;
  await writeFile(chunkPath, chunk);
  const restore = await ferry(home, ['restore', 'store1', SNAP, 'drive.img', join(dir, 'out.raw')]);
  assertFailed(
    restore,
    1,
    new RegExp(
      `snapshot ${SNAP}: archive drive\\.img\\.fidx: chunk ${digest.slice(0, 8)}: blob has wrong CRC-32`,
    ),
    'restore',
  );
  const verify = await ferry(home, ['verify', 'store1']);
  assert.equal(verify.code, 1);
  assert.match(
    verify.stdout,
    new RegExp(
      `snapshot ${SNAP}: archive drive\\.img\\.fidx: chunk ${digest.slice(0, 8)}: blob has wrong CRC-32 .* \\(moved aside as \\.bad\\)`,
    ),
  );
  assert.match(verify.stderr, /verify found 1 problem\(s\) in datastore store1/);
  await readFile(`${chunkPath}.0.bad`);
  const list = await ferryJson<{ verified: string }[]>(home, ['snapshots', 'store1']);
  assert.equal(list[0]?.verified, 'failed');
});

test('backup sources that are missing, of the wrong kind or too large are refused before anything is written', async (t) => {
  const { dir, home, store } = await world(t);
  const before = await picture(store);
  const missing = await ferry(home, ['backup', 'store1', 'vm/7', `d.img:${join(dir, 'nope')}`]);
  assertFailed(missing, 10, /archive d\.img\.fidx: ENOENT/, 'missing file');
  const notDir = await ferry(home, ['backup', 'store1', 'vm/7', `r.tar:${join(dir, 'vm.conf')}`]);
  assertFailed(notDir, 2, /archive r\.tar\.didx: .* is not a directory/, 'file as tree');
  await writeFile(join(dir, 'huge.conf'), '');
  await truncate(join(dir, 'huge.conf'), 200 * 1024 * 1024);
  const huge = await ferry(home, ['backup', 'store1', 'vm/7', `c.conf:${join(dir, 'huge.conf')}`]);
  assertFailed(
    huge,
    2,
    /archive c\.conf\.blob: .*huge\.conf is 209715200 bytes; a blob archive holds at most 134217728/,
    'huge blob',
  );
  const after = await picture(store);
  assert.deepEqual(
    after.filter((e) => !e.path.startsWith('vm/7')),
    before,
    'only the (empty, ownerd) group directory of the refused backups may appear',
  );
  assert.ok(
    after.every((e) => !e.path.startsWith('vm/7/2')),
    'no snapshot directory is left behind',
  );
});
