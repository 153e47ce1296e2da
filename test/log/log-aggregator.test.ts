import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { LogAggregator, type LogLine, type LogMessage } from '../../src/log/index.js';

function world(maxLines = 5, maxAgeMs = 1000) {
  let now = 1_000_000;
  const runs: LogLine[][] = [];
  const agg = new LogAggregator({
    maxLines,
    maxAgeMs,
    clock: { now: () => now },
    sink: (lines) => runs.push(lines),
  });
  const line = (label: string | undefined, msg: string) => agg.push({ label, level: 'info', msg, time: now });
  return {
    agg,
    runs,
    line,
    advance: (ms: number) => (now += ms),
    texts: () => runs.map((r) => r.map((l) => `${l.label ?? '-'}:${l.msg}`)),
  };
}

test('a label is written as one run when it reaches five lines', () => {
  const w = world();
  for (let i = 1; i <= 4; i++) w.line('vm/100', `a${i}`);
  w.line('vm/101', 'b1');
  assert.equal(w.runs.length, 0);
  w.line('vm/100', 'a5');
  assert.deepEqual(w.texts(), [['vm/100:a1', 'vm/100:a2', 'vm/100:a3', 'vm/100:a4', 'vm/100:a5']]);
  w.line('vm/100', 'a6');
  assert.equal(w.runs.length, 1, 'the sixth line starts a new run');
});

test('a label whose oldest line is one second old is written at the next tick, others wait', () => {
  const w = world();
  w.line('vm/100', 'a1');
  w.advance(600);
  w.line('vm/101', 'b1');
  w.line('vm/100', 'a2');
  w.advance(399);
  w.agg.tick();
  assert.equal(w.runs.length, 0);
  w.advance(1);
  w.agg.tick();
  assert.deepEqual(w.texts(), [['vm/100:a1', 'vm/100:a2']]);
  w.advance(600);
  w.agg.tick();
  assert.deepEqual(w.texts()[1], ['vm/101:b1']);
});

test('the end of a group and close flush what is left; job lines are written at once', () => {
  const w = world();
  w.line('vm/100', 'a1');
  w.line('vm/101', 'b1');
  w.line(undefined, 'job line');
  w.agg.flushLabel('vm/100');
  w.agg.close();
  assert.deepEqual(w.texts(), [['-:job line'], ['vm/100:a1'], ['vm/101:b1']]);
});

test('with maxLines 0 (worker-threads 1) every line is written directly', () => {
  const w = world(0, 0);
  w.line('vm/100', 'a1');
  w.line('vm/100', 'a2');
  assert.deepEqual(w.texts(), [['vm/100:a1'], ['vm/100:a2']]);
});

test('runs of many interleaved groups stay contiguous and in order per group', () => {
  const w = world();
  for (let i = 0; i < 23; i++) for (const g of ['ct/1', 'vm/2', 'host/3']) w.line(g, `${g}#${i}`);
  w.agg.close();
  for (const run of w.runs) {
    assert.ok(run.length >= 1 && run.length <= 5);
    assert.equal(new Set(run.map((l) => l.label)).size, 1);
  }
  for (const g of ['ct/1', 'vm/2', 'host/3']) {
    const msgs = w.runs
      .flat()
      .filter((l) => l.label === g)
      .map((l) => l.msg);
    assert.deepEqual(
      msgs,
      Array.from({ length: 23 }, (_, i) => `${g}#${i}`),
    );
  }
});

test("a worker's port: attach resolves at the group's flush, with every line sent before it in; a closed port too", async () => {
  const w = world();
  const { port1, port2 } = new MessageChannel();
  const flushed = w.agg.attach(port1);
  for (let i = 1; i <= 12; i++) {
    const message: LogMessage = {
      type: 'line',
      line: { label: 'vm/100', level: 'info', msg: `a${i}`, time: 0 },
    };
    port2.postMessage(message);
  }
  const flush: LogMessage = { type: 'flush', label: 'vm/100' };
  port2.postMessage(flush);
  await flushed;
  port1.close();
  assert.deepEqual(
    w.texts().flat(),
    Array.from({ length: 12 }, (_, i) => `vm/100:a${i + 1}`),
  );

  // A worker that died before its flush: its end closes, and the wait ends too.
  const other = new MessageChannel();
  const ended = w.agg.attach(other.port1);
  other.port2.close();
  await ended;
});
