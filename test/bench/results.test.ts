import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import type { ResultsFile } from '../../bench/results.js';
import { formatTable, writeResults } from '../../bench/results.js';

test('writeResults stamps the run with machine, node and commit and writes the chart beside it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-results-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const startedAt = new Date('2026-01-02T03:04:05.678Z');
  const path = await writeResults('wan-selftest', { rows: [1, 2] }, { dir, startedAt, svg: '<svg/>' });
  assert.equal(basename(path), 'wan-selftest-2026-01-02T03-04-05Z.json');
  const file = JSON.parse(await readFile(path, 'utf8')) as ResultsFile<{ rows: number[] }>;
  assert.equal(file.scenario, 'wan-selftest');
  assert.equal(file.startedAt, '2026-01-02T03:04:05.678Z');
  assert.equal(file.node, process.version);
  assert.match(file.commit, /^([0-9a-f]{40,64}|unknown)$/);
  assert.ok(file.machine.cpus.count > 0 && file.machine.cpus.model.length > 0);
  assert.ok(file.machine.memoryBytes > 0);
  assert.deepEqual(file.data, { rows: [1, 2] });
  assert.equal(await readFile(path.replace(/\.json$/, '.svg'), 'utf8'), '<svg/>');

  const second = await writeResults('wan-selftest', {}, { dir, startedAt });
  assert.equal(basename(second), 'wan-selftest-2026-01-02T03-04-05Z-2.json');
  assert.equal((await readdir(dir)).length, 3);
  await assert.rejects(writeResults('../escape', {}, { dir }), RangeError);
});

test('formatTable aligns numbers right and text left under a header rule', () => {
  const table = formatTable([
    { scenario: 'ingest', 'MiB/s': 1234.567, runs: 3 },
    { scenario: 'sync-latency', 'MiB/s': 0.5, runs: 10 },
  ]);
  assert.equal(
    table,
    [
      'scenario       MiB/s  runs',
      '------------  ------  ----',
      'ingest        1234.6     3',
      'sync-latency   0.500    10',
    ].join('\n'),
  );
  assert.equal(formatTable([{ a: 1, b: 'x' }], ['b']), ['b', '-', 'x'].join('\n'));
});
