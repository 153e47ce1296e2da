import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatBackupTime } from '../../src/model/index.js';
import { ferry, ferryJson, finished, spawnFerry } from '../helpers/cli.js';
import { compressibleBytes, seededBytes } from '../helpers/random.js';
import { tempDir } from '../helpers/world.js';

const TRIALS = 20;

interface SnapshotJson {
  snapshot: string;
  finished: boolean;
}

test(`ferry backup killed with SIGKILL at ${TRIALS} random moments leaves a datastore that verifies, lists nothing unfinished, and takes the next backup`, async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'store1', join(dir, 'store')]);
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'a'), { recursive: true });
  await writeFile(join(tree, 'a', 'data.bin'), seededBytes(5, 6 * 1024 * 1024));
  await writeFile(join(dir, 'vm.conf'), 'cores: 4\n');
  const delays = seededBytes(99, TRIALS * 4);
  const unchanged = seededBytes(1, 16 * 1024 * 1024);
  let time = Date.UTC(2026, 0, 1) / 1000;
  // Half new data each time, so every run writes chunks up to the moment it dies.
  const writeDisk = (n: number) =>
    writeFile(
      join(dir, 'disk.raw'),
      Buffer.concat([
        unchanged,
        seededBytes(1000 + n, 12 * 1024 * 1024),
        compressibleBytes(n, 4 * 1024 * 1024),
      ]),
    );
  const backupArgs = (group: string) => [
    'backup',
    'store1',
    group,
    `drive.img:${join(dir, 'disk.raw')}`,
    `root.tar:${tree}`,
    `vm.conf:${join(dir, 'vm.conf')}`,
    '--time',
    formatBackupTime(time),
  ];
  // How long one such backup takes on this machine, start to end: the kills fall at random moments within it.
  await writeDisk(-1);
  const started = performance.now();
  await ferryJson(home, backupArgs('vm/199'));
  const duration = performance.now() - started;
  let killed = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    await writeDisk(trial);
    time += 3600;
    const child = spawnFerry(home, backupArgs(`vm/${100 + (trial % 3)}`));
    const done = finished(child);
    await sleep(duration * (0.1 + (0.85 * delays.readUInt32LE(trial * 4)) / 2 ** 32));
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      killed++;
    }
    await done;

    const verify = await ferry(home, ['verify', 'store1']);
    assert.equal(verify.code, 0, `trial ${trial}: verify failed:\n${verify.stdout}\n${verify.stderr}`);
    for (const group of ['vm/100', 'vm/101', 'vm/102']) {
      const listed = await ferryJson<SnapshotJson[]>(home, ['snapshots', 'store1', group]).catch(
        () => [] as SnapshotJson[],
      );
      assert.ok(
        listed.every((s) => s.finished),
        `trial ${trial}: ${group} lists an unfinished snapshot`,
      );
    }
  }
  assert.ok(killed >= TRIALS / 2, `only ${killed} of ${TRIALS} runs were still going when killed`);
  const next = await ferryJson<{ snapshot: string }>(home, [
    'backup',
    'store1',
    'vm/100',
    `drive.img:${join(dir, 'disk.raw')}`,
    '--time',
    formatBackupTime(time + 3600),
  ]);
  assert.match(next.snapshot, /^vm\/100\//);
  const final = await ferry(home, ['verify', 'store1']);
  assert.equal(final.code, 0, final.stderr);
});
