/**
 * Builders for datastores with content: groups × snapshots of seeded images, made through Ferry's own backup path.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBackupSpec, runBackup } from '../../src/backup/index.js';
import { type SyncJob, toSyncJob } from '../../src/config/index.js';
import { makeGroup, parseAuthId, parseNamespace } from '../../src/model/index.js';
import type { ChunkPool, Datastore } from '../../src/store/index.js';
import { seededBytes } from './random.js';
import { log } from './world.js';

export const BASE_TIME = Date.UTC(2026, 0, 1) / 1000;
const BLOCK = 4 * 1024 * 1024;

export interface ContentSpec {
  ns?: string;
  groups: string[];
  snapshots: number;
  /** First snapshot index to make (to add snapshots to a filled store). */
  from?: number;
  /** 4 MiB blocks per image (default 3; the last one short). */
  blocks?: number;
  /** Blocks shared by every group (same seed), counted from the start. */
  sharedBlocks?: number;
  /** Blocks that change between consecutive snapshots of a group. */
  changedBlocks?: number;
  owner?: string;
}

/** Block `b` of snapshot `s` of group `g`: shared blocks are the same everywhere; changed blocks move with s. */
function blockSeed(spec: ContentSpec, group: string, s: number, b: number): number {
  if (b < (spec.sharedBlocks ?? 0)) return 1_000_000 + b;
  let h = 0;
  for (const c of `${spec.ns ?? ''}/${group}`) h = (h * 31 + c.charCodeAt(0)) | 0;
  const version = b >= (spec.blocks ?? 3) - (spec.changedBlocks ?? 1) ? s : 0;
  return h * 7919 + b * 104_729 + version;
}

export async function fillDatastore(
  ds: Datastore,
  pool: ChunkPool,
  dir: string,
  spec: ContentSpec,
): Promise<void> {
  const blocks = spec.blocks ?? 3;
  const ns = parseNamespace(spec.ns ?? '');
  if (ns !== '') await ds.ensureNamespace(ns);
  for (const g of spec.groups) {
    const [type, id] = g.split('/') as [string, string];
    for (let s = spec.from ?? 0; s < spec.snapshots; s++) {
      const image = Buffer.concat(
        Array.from({ length: blocks }, (_, b) =>
          seededBytes(blockSeed(spec, g, s, b), b === blocks - 1 ? BLOCK - 12345 : BLOCK),
        ),
      );
      const file = join(dir, `img-${type}-${id}-${s}`);
      await writeFile(file, image);
      await writeFile(`${file}.conf`, `group ${g} snapshot ${s}\n`);
      await runBackup(ds, {
        ns,
        group: makeGroup(type, id),
        time: BASE_TIME + s * 3600,
        owner: parseAuthId(spec.owner ?? 'root@pam'),
        sources: [parseBackupSpec(`drive-scsi0.img:${file}`), parseBackupSpec(`qemu.conf:${file}.conf`)],
        pool,
        log,
      });
    }
  }
}

export function syncJob(values: Record<string, unknown>): SyncJob {
  return toSyncJob('test-job', { store: 'target', 'remote-store': 'source', ...values } as never);
}
