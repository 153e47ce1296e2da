import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import {
  checkKeepOptions,
  formatBackupTime,
  isoWeek,
  type KeepOptions,
  parseBackupTime,
  selectPrune,
} from '../../src/model/index.js';

interface Snap {
  time: number;
  finished: boolean;
  protected: boolean;
}

function snaps(...times: string[]): Snap[] {
  return times.map((t) => ({ time: parseBackupTime(t), finished: true, protected: false }));
}

/** The times a prune keeps (any mark but remove), oldest first, in UTC unless a zone is given. */
function kept(list: Snap[], keep: KeepOptions, zone = 'UTC'): string[] {
  return selectPrune(list, keep, zone)
    .filter((d) => d.mark !== 'remove')
    .map((d) => formatBackupTime(d.snapshot.time))
    .reverse();
}

function removed(list: Snap[], keep: KeepOptions, zone = 'UTC'): string[] {
  return selectPrune(list, keep, zone)
    .filter((d) => d.mark === 'remove')
    .map((d) => formatBackupTime(d.snapshot.time))
    .reverse();
}

const WEEK = snaps(
  '2019-12-02T11:59:15Z',
  '2019-12-03T11:59:15Z',
  '2019-12-04T11:59:15Z',
  '2019-12-04T12:59:15Z',
);

test('keep-last keeps the N newest; daily, weekly, monthly and yearly keep the newest of each period', () => {
  assert.deepEqual(removed(WEEK, { last: 4 }), []);
  assert.deepEqual(removed(WEEK, { last: 3 }), ['2019-12-02T11:59:15Z']);
  assert.deepEqual(removed(WEEK, { last: 1 }), [
    '2019-12-02T11:59:15Z',
    '2019-12-03T11:59:15Z',
    '2019-12-04T11:59:15Z',
  ]);
  // Two on the 4th: only the later one is that day's.
  assert.deepEqual(removed(WEEK, { daily: 3 }), ['2019-12-04T11:59:15Z']);
  assert.deepEqual(removed(WEEK, { daily: 2 }), ['2019-12-02T11:59:15Z', '2019-12-04T11:59:15Z']);
  // All in one ISO week, one month, one year: one is kept, however large the count.
  for (const keep of [{ weekly: 5 }, { monthly: 6 }, { yearly: 7 }, { weekly: 5, monthly: 6, yearly: 7 }]) {
    assert.deepEqual(kept(WEEK, keep), ['2019-12-04T12:59:15Z'], JSON.stringify(keep));
  }
  // keep-last 2 covers the 4th; keep-daily 2 then takes the 3rd and the 2nd.
  assert.deepEqual(removed(WEEK, { last: 2, daily: 2 }), []);
});

test('each option counts only periods the earlier ones left: last, hourly, daily, weekly, monthly, yearly', () => {
  const list = snaps(
    '2018-11-15T11:59:15Z',
    '2019-11-15T11:59:15Z',
    '2019-11-21T11:59:15Z',
    '2019-11-22T11:59:15Z',
    '2019-11-29T11:59:15Z',
    '2019-12-01T11:59:15Z',
    '2019-12-02T11:59:15Z',
    '2019-12-03T11:59:15Z',
    '2019-12-04T11:59:15Z',
  );
  assert.deepEqual(kept(list, { daily: 1 }), ['2019-12-04T11:59:15Z']);
  assert.deepEqual(kept(list, { last: 1, daily: 1 }), ['2019-12-03T11:59:15Z', '2019-12-04T11:59:15Z']);
  // 2019-12-01 is a Sunday: the week before the week of the 4th.
  assert.deepEqual(kept(list, { daily: 1, weekly: 1 }), ['2019-12-01T11:59:15Z', '2019-12-04T11:59:15Z']);
  assert.deepEqual(kept(list, { daily: 1, weekly: 1, monthly: 1 }), [
    '2019-11-22T11:59:15Z',
    '2019-12-01T11:59:15Z',
    '2019-12-04T11:59:15Z',
  ]);
  assert.deepEqual(kept(list, { monthly: 1, yearly: 1 }), ['2018-11-15T11:59:15Z', '2019-12-04T11:59:15Z']);

  const hours = snaps(
    '2019-11-15T09:39:15Z',
    '2019-11-15T10:49:15Z',
    '2019-11-15T10:59:15Z',
    '2019-11-15T11:39:15Z',
    '2019-11-15T11:49:15Z',
    '2019-11-15T11:59:15Z',
  );
  assert.deepEqual(removed(hours, { hourly: 3 }), [
    '2019-11-15T10:49:15Z',
    '2019-11-15T11:39:15Z',
    '2019-11-15T11:49:15Z',
  ]);
  assert.deepEqual(kept(hours, { hourly: 2 }), ['2019-11-15T10:59:15Z', '2019-11-15T11:59:15Z']);
});

test('protected snapshots stay and count for no option; no keep option keeps everything', () => {
  const list = snaps('2026-11-01T10:00:00Z', '2026-11-02T10:00:00Z', '2026-11-03T10:00:00Z');
  (list[2] as Snap).protected = true; // the newest
  const decisions = selectPrune(list, { last: 1 }, 'UTC');
  assert.deepEqual(
    decisions.map((d) => [formatBackupTime(d.snapshot.time), d.mark, d.reason]),
    [
      ['2026-11-03T10:00:00Z', 'protected', undefined],
      ['2026-11-02T10:00:00Z', 'keep', 'keep-last'],
      ['2026-11-01T10:00:00Z', 'remove', undefined],
    ],
  );
  assert.deepEqual(removed(list, {}), []);
  assert.deepEqual(removed(list, checkKeepOptions({ last: 0, daily: 0 })), []);
});

test('an unfinished snapshot is kept only while it is the newest; older leftovers go', () => {
  const list = snaps(
    '2026-11-01T10:00:00Z',
    '2026-11-02T10:00:00Z',
    '2026-11-03T10:00:00Z',
    '2026-11-04T10:00:00Z',
  );
  (list[1] as Snap).finished = false; // a crashed writer's leftover
  (list[3] as Snap).finished = false; // a writer at work
  const marks = selectPrune(list, { last: 5 }, 'UTC').map((d) => d.mark);
  assert.deepEqual(marks, ['keep-partial', 'keep', 'remove', 'keep']);
});

test('periods are calendar periods of the given time zone, weeks ISO weeks across the turn of the year', () => {
  // 23:30 UTC on the 1st is already the 2nd in Berlin: two days in UTC, one day (the 2nd) in Berlin.
  const list = snaps('2026-07-01T23:30:00Z', '2026-07-02T05:00:00Z');
  assert.deepEqual(kept(list, { daily: 5 }, 'UTC'), ['2026-07-01T23:30:00Z', '2026-07-02T05:00:00Z']);
  assert.deepEqual(kept(list, { daily: 5 }, 'Europe/Berlin'), ['2026-07-02T05:00:00Z']);
  // 2026-12-31 (Thursday) and 2027-01-03 (Sunday) share ISO week 2026-W53; 2027-01-04 starts 2027-W01.
  assert.deepEqual(isoWeek(2026, 12, 31), [2026, 53]);
  assert.deepEqual(isoWeek(2027, 1, 3), [2026, 53]);
  assert.deepEqual(isoWeek(2027, 1, 4), [2027, 1]);
  assert.deepEqual(isoWeek(2024, 12, 30), [2025, 1]);
  const turn = snaps('2026-12-31T12:00:00Z', '2027-01-03T12:00:00Z', '2027-01-04T12:00:00Z');
  assert.deepEqual(kept(turn, { weekly: 5 }), ['2027-01-03T12:00:00Z', '2027-01-04T12:00:00Z']);
  assert.deepEqual(kept(turn, { yearly: 5 }), ['2026-12-31T12:00:00Z', '2027-01-04T12:00:00Z']);
});

test('keep counts must be whole numbers in range, and only the known options', () => {
  const bad = (keep: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => checkKeepOptions(keep),
      (err: unknown) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE') && pattern.test(err.message),
    );
  bad({ last: -1 }, /keep-last/);
  bad({ daily: 1.5 }, /keep-daily/);
  bad({ weekly: '3' }, /keep-weekly/);
  bad({ monthly: 1e9 }, /keep-monthly/);
  bad({ forever: 1 }, /keep option.*forever/);
  assert.deepEqual(checkKeepOptions({ last: 3, hourly: 0, yearly: undefined }), { last: 3 });
});
