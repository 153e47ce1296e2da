import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSectionConfig, parseSyncConfig } from '../../src/config/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { groupPassesFilters, parseGroup, parseGroupFilter } from '../../src/model/index.js';

const DESIGN_EXAMPLE = `sync: s-8764c440-3a6c
\tns
\towner root@pam
\tremote local
\tremote-ns
\tremote-store push-target-store
\tremove-vanished false
\tstore datastore
\tsync-direction push
\tworker-threads 4
`;

test('the sync job example of DESIGN §7 parses as is', () => {
  const [job] = parseSyncConfig(DESIGN_EXAMPLE, 'sync.cfg');
  assert.ok(job);
  assert.equal(job.id, 's-8764c440-3a6c');
  assert.equal(job.ns, '');
  assert.equal(job.remote, 'local');
  assert.equal(job.remoteStore, 'push-target-store');
  assert.equal(job.store, 'datastore');
  assert.equal(job.direction, 'push');
  assert.equal(job.workerThreads, 4);
  assert.equal(job.removeVanished, false);
  assert.equal(job.owner, 'root@pam');
});

test('every PBS sync key parses, with repeated group filters and rates in human units', () => {
  const [job] = parseSyncConfig(
    `sync: full\n\tstore local1\n\tns a/b\n\tremote r1\n\tremote-store src1\n\tremote-ns x\n\tremove-vanished true\n\tmax-depth 2\n\towner sync@pbs\n\tgroup-filter type:vm\n\tgroup-filter exclude:regex:^vm/9\n\ttransfer-last 3\n\trate-in 20MiB\n\tburst-in 40MiB\n\trate-out 1GB\n\tschedule daily\n\tcomment nightly copy\n\tverified-only true\n\tencrypted-only false\n\tworker-threads 32\n`,
    'sync.cfg',
  );
  assert.ok(job);
  assert.equal(job.maxDepth, 2);
  assert.equal(job.groupFilter.length, 2);
  assert.deepEqual(job.rateIn, { rate: 20 * 1024 * 1024, burst: 40 * 1024 * 1024 });
  assert.deepEqual(job.rateOut, { rate: 1e9, burst: 1e9 });
  assert.equal(job.transferLast, 3);
  assert.equal(job.verifiedOnly, true);
});

test('bad keys and values fail with the file, the line and the key', () => {
  const cases: [string, RegExp][] = [
    [
      'sync: j\n\tstore s1s\n\tremote-store s2s\n\tworker-threads 33\n',
      /sync\.cfg:4: sync j: key worker-threads: /,
    ],
    [
      'sync: j\n\tstore s1s\n\tremote-store s2s\n\tcolour blue\n',
      /sync\.cfg:4: sync j: unknown key "colour"/,
    ],
    [
      'sync: j\n\tstore s1s\n\tremote-store s2s\n\tremove-vanished maybe\n',
      /sync\.cfg:4: sync j: key remove-vanished/,
    ],
    [
      'sync: j\n\tstore s1s\n\tremote-store s2s\n\tns ../etc\n',
      /sync\.cfg:4: sync j: key ns: invalid namespace component "\.\."/,
    ],
    [
      'sync: j\n\tstore s1s\n\tremote-store s2s\n\tgroup-filter kind:vm\n',
      /sync\.cfg:4: sync j: key group-filter: invalid group filter/,
    ],
    ['sync: j\n\tstore s1s\n\tremote-store s2s\n\tmax-depth 8\n', /sync\.cfg:4: sync j: key max-depth/],
    ['sync: j\n\tstore s1s\n\n', /sync\.cfg:1: sync j: .*remote-store/],
    ['sync: j\n\tstore s1s\n\tremote-store s1s\n', /can't sync to same datastore/],
    ['sync: j\n\tstore s1s\n\tstore s2s\n\tremote-store s2s\n', /sync\.cfg:3: sync j: key store is repeated/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => parseSyncConfig(text, 'sync.cfg'),
      (e: unknown) => isFerryError(e, 'FERRY_ERR_CONFIG') && pattern.test(e.message),
      text,
    );
  }
});

test('group filters follow PBS: any include, then any exclude; regex is unanchored on type/id', () => {
  const f = (...specs: string[]) => specs.map(parseGroupFilter);
  const g = parseGroup;
  assert.ok(groupPassesFilters(g('vm/100'), []));
  assert.ok(groupPassesFilters(g('vm/100'), f('type:vm')));
  assert.ok(!groupPassesFilters(g('ct/100'), f('type:vm')));
  assert.ok(groupPassesFilters(g('ct/100'), f('type:vm', 'group:ct/100')));
  assert.ok(!groupPassesFilters(g('vm/100'), f('type:vm', 'exclude:regex:10')));
  assert.ok(groupPassesFilters(g('vm/200'), f('regex:^vm/2')));
  assert.ok(groupPassesFilters(g('vm/123'), f('regex:2')), 'unanchored');
  assert.ok(!groupPassesFilters(g('host/a'), f('exclude:type:host')));
  assert.ok(groupPassesFilters(g('vm/1'), f('exclude:type:host')));
});

test('a job written back keeps every value on its own line: line breaks, bad keys and bad ids are refused', () => {
  const job = parseSyncConfig(DESIGN_EXAMPLE, 'sync.cfg')[0];
  assert.ok(job);
  const text = formatSectionConfig([{ type: 'sync', id: job.id, values: job.values }]);
  assert.deepEqual(parseSyncConfig(text, 'again')[0]?.values, job.values);
  for (const [section, message] of [
    [
      { type: 'sync', id: 'j', values: { comment: 'a\n\tremote evil' } },
      /key comment: .* is more than one line/,
    ],
    [{ type: 'sync', id: 'j', values: { comment: 'a\rb' } }, /more than one line/],
    [{ type: 'sync', id: 'j', values: { 'group-filter': ['type:vm', 'x\ny'] } }, /key group-filter/],
    [{ type: 'sync', id: 'j', values: { 'bad key': 'x' } }, /bad key "bad key"/],
    [{ type: 'sync', id: 'j\nremote: x', values: {} }, /bad section/],
  ] as const) {
    assert.throws(
      () => formatSectionConfig([section]),
      (err) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE') && message.test(err.message),
    );
  }
});
