/**
 * Fixture builders: each test builds its own world in a temp dir and tears it down with t.after.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { silentLogger } from '../../src/log/index.js';
import { ChunkPool, Datastore } from '../../src/store/index.js';

export const log = silentLogger();

export async function tempDir(t: TestContext, prefix = 'ferry-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function makeDatastore(t: TestContext, name = 'store'): Promise<Datastore> {
  const dir = await tempDir(t);
  const ds = await Datastore.create(join(dir, name));
  t.after(() => ds.close());
  return ds;
}

export function makePool(t: TestContext, threads = 2): ChunkPool {
  const pool = new ChunkPool({ threads });
  t.after(() => pool.destroy());
  return pool;
}

/**
 * A long link, made visible: `reached` resolves once `signal()` is called, or after `ms` at the latest (code that
 * never signals then shows up as a wrong order of events, not as a hang).
 */
export function signalOrLate(ms = 500): { reached: Promise<void>; signal: () => void } {
  let signal: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    const late = setTimeout(resolve, ms);
    signal = () => {
      clearTimeout(late);
      resolve();
    };
  });
  return { reached, signal };
}
