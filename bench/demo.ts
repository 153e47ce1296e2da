/**
 * `npm run demo`: Ferry end to end on an embedded default world, in a temporary $FERRY_HOME that is removed at the
 * end. Until the sync engine lands this shows the datastore path: backup (twice, to show dedup) → verify →
 * restore, each step through the real CLI.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage } from './workload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FERRY = join(ROOT, 'bin', 'ferry');
const MIB = 1024 * 1024;

function step(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

async function ferry(home: string, args: string[]): Promise<void> {
  process.stdout.write(`$ ferry ${args.join(' ')}\n`);
  const child = spawn(FERRY, args, { env: { ...process.env, FERRY_HOME: home }, stdio: 'inherit' });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`ferry ${args[0]} exited with ${code}`);
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
  const home = join(dir, 'home');
  try {
    const imageSize = (quick ? 32 : 256) * MIB;
    step(
      `a world: one datastore, a ${imageSize / MIB} MiB disk image (random, text and zero blocks), a config file`,
    );
    await writeImage(join(dir, 'disk.raw'), imageSize, 7);
    await mkdir(join(dir, 'etc'), { recursive: true });
    await writeFile(join(dir, 'etc', 'hosts'), '127.0.0.1 localhost\n');
    await writeFile(join(dir, 'vm.conf'), 'cores: 4\nmemory: 8192\n');
    await ferry(home, ['datastore', 'create', 'demo', join(dir, 'store')]);

    step('first backup: every chunk is new');
    const sources = [
      `drive-scsi0.img:${join(dir, 'disk.raw')}`,
      `etc.tar:${join(dir, 'etc')}`,
      `qemu.conf:${join(dir, 'vm.conf')}`,
    ];
    await ferry(home, ['backup', 'demo', 'vm/100', ...sources, '--time', '2026-01-01T00:00:00Z']);

    step('second backup after changing 2 blocks: only those are written');
    await writeImage(join(dir, 'disk.raw'), imageSize, 7, { changed: new Set([1, 5]) });
    await ferry(home, ['backup', 'demo', 'vm/100', ...sources, '--time', '2026-01-02T00:00:00Z']);

    step('list, verify every chunk, restore');
    await ferry(home, ['snapshots', 'demo']);
    await ferry(home, ['verify', 'demo']);
    await ferry(home, [
      'restore',
      'demo',
      'vm/100/2026-01-02T00:00:00Z',
      'drive-scsi0.img',
      join(dir, 'restored.raw'),
    ]);
    const same = (await sha256(join(dir, 'restored.raw'))) === (await sha256(join(dir, 'disk.raw')));
    process.stdout.write(`\nrestored image is ${same ? 'byte-identical to' : 'DIFFERENT from'} the source\n`);
    if (!same) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
