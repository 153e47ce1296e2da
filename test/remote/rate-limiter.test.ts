import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Piscina } from 'piscina';
import { isFerryError } from '../../src/errors/index.js';
import { SharedRateLimiter } from '../../src/remote/index.js';

const NOW = 1_700_000_000_000;
const still = { now: () => NOW };

test('a quiet limiter lets a burst through at once, then makes callers wait at the rate', () => {
  const limiter = SharedRateLimiter.create({ rate: 1000, burst: 500 }, { clock: still });
  assert.equal(limiter.reserve(500), 0);
  assert.equal(limiter.reserve(100), 100); // 100 bytes at 1000 B/s
  assert.equal(limiter.reserve(1000), 1100);
  assert.equal(SharedRateLimiter.create({ rate: 1000 }, { clock: still }).burst, 1000);
});

test('time passing pays the debt back, never more than the burst', () => {
  let now = NOW;
  const limiter = SharedRateLimiter.create({ rate: 1000, burst: 100 }, { clock: { now: () => now } });
  assert.equal(limiter.reserve(1100), 1000);
  now += 1000; // the caller waited and sent: the bucket is empty now
  assert.equal(limiter.reserve(100), 100);
  now += 200; // 100 ms paid the 100 bytes, 100 ms refilled the burst
  assert.equal(limiter.reserve(100), 0);
  now += 60_000; // a long quiet spell still allows only one burst
  assert.equal(limiter.reserve(100), 0);
  assert.equal(limiter.reserve(100), 100);
});

test('many small takes at a high rate add up to what passed (a response arrives in pieces as small as 40 bytes)', () => {
  const limiter = SharedRateLimiter.create({ rate: 1e9, burst: 1 }, { clock: still });
  for (let i = 0; i < 1000; i++) limiter.reserve(40);
  // 40,000 bytes at 1 GB/s: 40 µs of debt (whole microseconds per take had made each of these free).
  assert.ok(Math.abs(limiter.reserve(1) - 0.04) < 1e-6);
});

test('pace answers at once within the budget and waits only beyond it', async () => {
  const limiter = SharedRateLimiter.create({ rate: 1000, burst: 500 }, { clock: still });
  assert.equal(limiter.pace(500), undefined, 'the burst passes with no promise');
  assert.equal(limiter.pace(0), undefined);
  const wait = limiter.pace(20); // 20 ms of debt at 1000 B/s
  assert.ok(wait instanceof Promise);
  await wait;
});

test('clients in several piscina worker threads draw from one budget through the SharedArrayBuffer', async (t) => {
  const limiter = SharedRateLimiter.create({ rate: 1_000_000, burst: 1_000_000 }, { clock: still });
  const pool = new Piscina({
    filename: new URL('../fixtures/rate-limit.worker.ts', import.meta.url).href,
    minThreads: 4,
    maxThreads: 4,
  });
  t.after(() => pool.destroy());
  const task = { buffer: limiter.buffer, times: 20_000, bytes: 100, now: NOW };
  await Promise.all([pool.run(task), pool.run(task), pool.run(task), pool.run(task)]);
  // 4 threads × 20,000 × 100 bytes = 8 MB booked at 1 MB/s with a 1 MB burst: the next byte waits 7 s, exactly,
  // so no booking was lost to a race between threads.
  assert.equal(limiter.reserve(0), 7000);
  assert.equal(SharedRateLimiter.fromBuffer(limiter.buffer).rate, 1_000_000);
});

test('a rate limit must be positive and a buffer must be a limiter’s', () => {
  assert.throws(
    () => SharedRateLimiter.create({ rate: 0 }),
    (err) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
  );
  assert.throws(
    () => SharedRateLimiter.fromBuffer(new SharedArrayBuffer(4)),
    (err) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
  );
});
