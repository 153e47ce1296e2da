import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DirectCalls } from '../../src/io/index.js';

const FAST = 0.02;
const SLOW = DirectCalls.SLOW_MS * 4;

test('a thread keeps making cheap file calls itself while they are fast, and through a few slow ones', () => {
  const calls = new DirectCalls(true);
  for (let i = 0; i < 1000; i++) calls.record(i % 4 === 0 ? SLOW : FAST); // one in four preempted mid-call
  assert.equal(calls.enabled, true);
  for (let i = 0; i < 10; i++) calls.record(SLOW); // a burst
  assert.equal(calls.enabled, true);
});

test('a thread whose file calls are mostly slow gives them back to the pool, for good', () => {
  const calls = new DirectCalls(true);
  for (let i = 0; i < 100; i++) calls.record(FAST);
  let n = 0;
  while (calls.enabled && n < 100) {
    calls.record(SLOW);
    n++;
  }
  assert.equal(calls.enabled, false);
  assert.ok(n >= 16 && n <= 32, `switched after ${n} slow calls`);
  for (let i = 0; i < 100; i++) calls.record(FAST);
  assert.equal(calls.enabled, false);
});

test('a thread that starts disabled (the main thread) never makes them itself, and run() still runs the call', () => {
  const calls = new DirectCalls(false);
  assert.equal(
    calls.run(() => 42),
    42,
  );
  assert.equal(calls.enabled, false);
});
