import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskWindow } from '../../src/io/index.js';

function deferred() {
  let resolve: () => void = () => undefined;
  let reject: (err: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('a task window waits for room at its limit, frees a place on rejection without throwing, and drains', async () => {
  const window = new TaskWindow(2);
  const a = deferred();
  const b = deferred();
  window.track(a.promise);
  await window.room(); // one running: room at once
  window.track(b.promise);
  let roomy = false;
  const waiting = window.room().then(() => {
    roomy = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(roomy, false, 'two running: no room');
  a.reject(new Error('failed'));
  await waiting;
  assert.equal(window.size, 1, 'the rejected task freed its place');

  const c = deferred();
  let drained = false;
  const draining = window.drain().then(() => {
    drained = true;
  });
  window.track(c.promise); // tracked while drain waits: drain waits for it too
  b.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, false);
  c.resolve();
  await draining;
  assert.equal(window.size, 0);
});
