import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThreadPool } from '../../src/io/index.js';

const FIXTURE = new URL('../fixtures/lmdb-load.worker.mjs', import.meta.url).href;

function startPool(workerData: Record<string, unknown> = {}): ThreadPool<unknown, string> {
  return new ThreadPool<unknown, string>({
    filename: FIXTURE,
    execArgv: [], // plain JavaScript: no tsx in the threads, so each starts in tens of milliseconds
    minThreads: 2,
    maxThreads: 2,
    workerData,
  });
}

// Node aborts the whole process (FATAL ERROR ... napi_throw) when a thread is terminated while lmdb's native addon
// registers itself. With a plain Piscina in place of ThreadPool this loop, aimed at the moment the threads start
// loading, brought the test process down in 8 runs of 8 here, between round 0 and round 147.
test('a pool destroyed while its threads load a native addon lets them finish loading first: the process lives', async () => {
  for (let round = 0; round < 200; round++) {
    const pool = startPool();
    await once(pool, 'message'); // a thread is about to load lmdb
    await sleep(Math.random() * 40);
    await pool.destroy();
    assert.equal(pool.threads.length, 0);
  }
});

test('a pool whose threads fail during start-up is destroyed without waiting for them', async () => {
  const pool = startPool({ fail: true });
  const errors: Error[] = [];
  pool.on('error', (err: Error) => errors.push(err));
  // The thread's "loading" message and its start-up error reach the pool on different ports, so either may come
  // first (on a busy machine the error did, 10 times in 300): wait for whichever does. events.once would reject on
  // the error.
  await new Promise((resolve) => {
    pool.once('message', resolve);
    pool.once('error', resolve);
  });
  const started = performance.now();
  await pool.destroy();
  assert.ok(performance.now() - started < 10_000, 'destroy did not wait out its load timeout');
  assert.ok(errors.length > 0, 'the failed start-up was reported');
  assert.ok(
    errors.every((err) => err.message.includes('this thread fails to load')),
    errors.join('\n'),
  );
});

test('a pool whose threads have loaded is destroyed at once (it sees piscina say they are ready)', async () => {
  const pool = startPool();
  assert.equal(await pool.run({}), 'ran');
  await sleep(200); // the second thread has loaded too
  const started = performance.now();
  await pool.destroy();
  assert.ok(performance.now() - started < 5_000, 'destroy did not wait out its load timeout');
  assert.equal(pool.threads.length, 0);
});
