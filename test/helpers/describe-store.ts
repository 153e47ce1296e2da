import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatSnapshot } from '../../src/model/index.js';
import type { Datastore } from '../../src/store/index.js';

/**
 * A comparable picture of a datastore's content: namespaces, groups with owners, finished snapshots with the hash
 * of every file (manifest and archives), and the set of chunks.
 */
export async function describeStore(ds: Datastore): Promise<{
  namespaces: string[];
  snapshots: Record<string, string>;
  owners: Record<string, string>;
  chunks: string[];
}> {
  const namespaces = await ds.listNamespaces();
  const snapshots: Record<string, string> = {};
  const owners: Record<string, string> = {};
  for (const ns of namespaces) {
    for (const g of await ds.listGroups(ns)) {
      owners[`${ns}|${g.group.type}/${g.group.id}`] = g.owner ?? '-';
      for (const s of await ds.listSnapshots(ns, g.group, { manifests: false })) {
        if (!s.finished) continue;
        const dir = ds.layout.snapshotPath(ns, s.snapshot);
        const files = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
        const h = createHash('sha256');
        for (const f of files) h.update(f).update(await readFile(join(dir, f)));
        snapshots[`${ns}|${formatSnapshot(s.snapshot)}`] = h.digest('hex').slice(0, 16);
      }
    }
  }
  const chunks = [...ds.chunks.index.entries()].map(([d]) => d).sort();
  return { namespaces: [...namespaces].sort(), snapshots, owners, chunks };
}
