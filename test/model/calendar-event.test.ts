import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import { type CalendarEvent, nextCalendarEvent, parseCalendarEvent } from '../../src/model/index.js';

const BERLIN = 'Europe/Berlin';

/** An ISO time with an explicit offset, as the UTC ISO string `nextIso` returns. */
function utc(iso: string): string {
  return new Date(iso).toISOString();
}

/** The next elapse of `event` after the ISO time `after` in `zone`, as a UTC ISO string (or 'never'). */
function nextIso(event: string, after: string, zone: string): string {
  const t = nextCalendarEvent(parseCalendarEvent(event), Date.parse(after) / 1000, zone);
  return t === undefined ? 'never' : new Date(t * 1000).toISOString();
}

/** The first `count` elapses after `after`, as UTC ISO strings. */
function series(event: string, after: string, zone: string, count: number): string[] {
  const parsed = parseCalendarEvent(event);
  const out: string[] = [];
  let t = Date.parse(after) / 1000;
  for (let i = 0; i < count; i++) {
    const next = nextCalendarEvent(parsed, t, zone);
    if (next === undefined) break;
    out.push(new Date(next * 1000).toISOString());
    t = next;
  }
  return out;
}

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseCalendarEvent(text),
    (err: unknown) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE') && pattern.test(err.message),
    `expected ${JSON.stringify(text)} to be rejected with ${pattern}`,
  );
}

// 2026-05-08 is a Friday.
const FRIDAY = '2026-05-08T13:14:15Z';

test('shorthands mean what they mean in proxmox-time', () => {
  assert.equal(nextIso('minutely', FRIDAY, 'UTC'), utc('2026-05-08T13:15:00Z'));
  assert.equal(nextIso('hourly', FRIDAY, 'UTC'), utc('2026-05-08T14:00:00Z'));
  assert.equal(nextIso('daily', FRIDAY, 'UTC'), utc('2026-05-09T00:00:00Z'));
  assert.equal(nextIso('weekly', FRIDAY, 'UTC'), utc('2026-05-11T00:00:00Z')); // Monday
  assert.equal(nextIso('monthly', FRIDAY, 'UTC'), utc('2026-06-01T00:00:00Z'));
  assert.equal(nextIso('yearly', FRIDAY, 'UTC'), utc('2027-01-01T00:00:00Z'));
  assert.equal(nextIso('annually', FRIDAY, 'UTC'), utc('2027-01-01T00:00:00Z'));
  assert.equal(nextIso('quarterly', FRIDAY, 'UTC'), utc('2026-07-01T00:00:00Z'));
  assert.equal(nextIso('quarterly', '2026-10-01T00:00:00Z', 'UTC'), utc('2027-01-01T00:00:00Z'));
  assert.equal(nextIso('semiannually', FRIDAY, 'UTC'), utc('2026-07-01T00:00:00Z'));
  assert.equal(nextIso('semi-annually', '2026-08-01T00:00:00Z', 'UTC'), utc('2027-01-01T00:00:00Z'));
  // in a time zone: local midnight
  assert.equal(nextIso('daily', FRIDAY, BERLIN), utc('2026-05-09T00:00:00+02:00'));
  assert.equal(nextIso('monthly', '2026-12-15T00:00:00Z', BERLIN), utc('2027-01-01T00:00:00+01:00'));
  // a UTC suffix wins over the caller's zone
  assert.equal(nextIso('daily UTC', FRIDAY, BERLIN), utc('2026-05-09T00:00:00Z'));
  assert.equal(nextIso('sat 02:00UTC', FRIDAY, BERLIN), utc('2026-05-09T02:00:00Z'));
});

test('weekday ranges skip the weekend; weekdays are case-insensitive, full or short', () => {
  assert.equal(nextIso('mon..fri 02:00', '2026-05-08T03:00:00Z', 'UTC'), utc('2026-05-11T02:00:00Z'));
  assert.equal(
    nextIso('Mon..Fri 02:00', '2026-05-08T02:00:00+02:00', BERLIN),
    utc('2026-05-11T02:00:00+02:00'),
  );
  assert.equal(nextIso('monday', FRIDAY, 'UTC'), utc('2026-05-11T00:00:00Z'));
  assert.equal(nextIso('sat,sun 12:00', FRIDAY, 'UTC'), utc('2026-05-09T12:00:00Z'));
  assert.equal(nextIso('sat,sun 12:00', '2026-05-09T12:00:00Z', 'UTC'), utc('2026-05-10T12:00:00Z'));
  assert.equal(nextIso('sat,sun 12:00', '2026-05-10T12:00:00Z', 'UTC'), utc('2026-05-16T12:00:00Z'));
  // a range may wrap around the end of the week
  assert.deepEqual(series('fri..mon', '2026-05-07T00:00:00Z', 'UTC', 5), [
    utc('2026-05-08T00:00:00Z'),
    utc('2026-05-09T00:00:00Z'),
    utc('2026-05-10T00:00:00Z'),
    utc('2026-05-11T00:00:00Z'),
    utc('2026-05-15T00:00:00Z'),
  ]);
  assert.equal(parseCalendarEvent('mon,wed..fri').weekdays, 0b0011101);
  assert.equal(parseCalendarEvent('MON,Tuesday..wednesday,fri..SAT').weekdays, 0b0110111);
});

test('time parts: repetitions, lists, a time alone, a minute alone, seconds', () => {
  assert.equal(nextIso('*:0/15', FRIDAY, 'UTC'), utc('2026-05-08T13:15:00Z'));
  assert.equal(nextIso('*:0/15', '2026-05-08T13:45:00Z', 'UTC'), utc('2026-05-08T14:00:00Z'));
  assert.deepEqual(series('*:0/15', '2026-05-08T23:40:00Z', 'UTC', 3), [
    utc('2026-05-08T23:45:00Z'),
    utc('2026-05-09T00:00:00Z'),
    utc('2026-05-09T00:15:00Z'),
  ]);
  assert.equal(nextIso('0/6:00', FRIDAY, 'UTC'), utc('2026-05-08T18:00:00Z'));
  assert.equal(nextIso('0/6:00', '2026-05-08T18:00:00Z', 'UTC'), utc('2026-05-09T00:00:00Z'));
  assert.equal(nextIso('2,14:30', FRIDAY, 'UTC'), utc('2026-05-08T14:30:00Z'));
  assert.equal(nextIso('2,14:30', '2026-05-08T14:30:00Z', 'UTC'), utc('2026-05-09T02:30:00Z'));
  assert.equal(nextIso('02:30', FRIDAY, 'UTC'), utc('2026-05-09T02:30:00Z'));
  assert.equal(nextIso('13:14:16', FRIDAY, 'UTC'), utc('2026-05-08T13:14:16Z'));
  assert.equal(nextIso('*:*:0/20', FRIDAY, 'UTC'), utc('2026-05-08T13:14:20Z'));
  assert.equal(nextIso('8..17/3:00', FRIDAY, 'UTC'), utc('2026-05-08T14:00:00Z'));
  // a single value is the minute of every hour, as in PBS
  assert.equal(nextIso('20', FRIDAY, 'UTC'), utc('2026-05-08T13:20:00Z'));
  assert.equal(nextIso('10', FRIDAY, 'UTC'), utc('2026-05-08T14:10:00Z'));
  const parsed = parseCalendarEvent('mon..fri 2:30');
  assert.deepEqual(parsed.hour, [{ from: 2, to: 2, step: 1 }]);
  assert.deepEqual(parsed.second, [{ from: 0, to: 0, step: 1 }]);
});

test('date parts: first Saturday of a month, Feb 29, fixed years, month and year ends', () => {
  assert.equal(nextIso('sat *-1..7 15:00', '2026-05-01T00:00:00Z', 'UTC'), utc('2026-05-02T15:00:00Z'));
  assert.equal(nextIso('sat *-1..7 15:00', '2026-05-03T00:00:00Z', 'UTC'), utc('2026-06-06T15:00:00Z'));
  assert.equal(nextIso('sat *-1..7 15:00', '2026-12-06T00:00:00Z', 'UTC'), utc('2027-01-02T15:00:00Z'));
  // Feb 29 across non-leap years, and 2100 is no leap year
  assert.equal(nextIso('*-02-29', '2025-01-01T00:00:00Z', 'UTC'), utc('2028-02-29T00:00:00Z'));
  assert.equal(nextIso('*-02-29', '2028-02-29T00:00:00Z', 'UTC'), utc('2032-02-29T00:00:00Z'));
  assert.equal(nextIso('*-02-29 12:00', '2096-03-01T00:00:00Z', 'UTC'), utc('2104-02-29T12:00:00Z'));
  // a fixed year in the past never comes again
  assert.equal(nextIso('2025-*-* 02:00', '2026-01-01T00:00:00Z', 'UTC'), 'never');
  assert.equal(nextIso('2025-*-* 02:00', '2025-12-31T02:00:00Z', 'UTC'), 'never');
  assert.equal(nextIso('2025-*-* 02:00', '2025-12-30T12:00:00Z', 'UTC'), utc('2025-12-31T02:00:00Z'));
  assert.equal(nextIso('2024..2025-12-31', '2026-01-01T00:00:00Z', 'UTC'), 'never');
  // impossible dates give up quickly
  assert.equal(nextIso('*-02-30', '2026-01-01T00:00:00Z', 'UTC'), 'never');
  assert.equal(nextIso('*-04-31 02:00', '2026-01-01T00:00:00Z', BERLIN), 'never');
  // month and year ends
  assert.equal(nextIso('*-*-31', '2026-04-01T00:00:00Z', 'UTC'), utc('2026-05-31T00:00:00Z'));
  assert.equal(nextIso('*-*-31 23:59:59', '2026-05-31T23:59:59Z', 'UTC'), utc('2026-07-31T23:59:59Z'));
  assert.equal(nextIso('daily', '2026-12-31T12:00:00Z', 'UTC'), utc('2027-01-01T00:00:00Z'));
  assert.equal(nextIso('mon', '2026-12-31T00:00:00Z', 'UTC'), utc('2027-01-04T00:00:00Z'));
  assert.equal(nextIso('*:*:*', '2026-12-31T23:59:59Z', 'UTC'), utc('2027-01-01T00:00:00Z'));
  assert.equal(nextIso('12-31 23:30', '2026-12-31T23:30:00+01:00', BERLIN), utc('2027-12-31T23:30:00+01:00'));
  // repetitions in dates: every other month from January, odd days
  assert.equal(nextIso('*-*/2-1', '2026-02-01T00:00:00Z', 'UTC'), utc('2026-03-01T00:00:00Z'));
  assert.equal(nextIso('*-*/2-1', '2026-11-01T00:00:00Z', 'UTC'), utc('2027-01-01T00:00:00Z'));
  assert.equal(nextIso('*-1..12/2-1/7', '2026-01-22T00:00:00Z', 'UTC'), utc('2026-01-29T00:00:00Z'));
});

test('an event exactly at afterSeconds gives the next one, and results are whole seconds', () => {
  assert.equal(nextIso('daily', '2026-05-09T00:00:00Z', 'UTC'), utc('2026-05-10T00:00:00Z'));
  assert.equal(nextIso('*:*:*', '2026-05-09T00:00:00Z', 'UTC'), utc('2026-05-09T00:00:01Z'));
  const event = parseCalendarEvent('*:*:*');
  assert.equal(nextCalendarEvent(event, 100.5, 'UTC'), 101);
  assert.equal(nextCalendarEvent(event, 100, 'UTC'), 101);
});

test('DST spring forward in Europe/Berlin: a skipped local time does not elapse, as in PBS', () => {
  // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day
  assert.equal(nextIso('02:30', '2026-03-28T12:00:00Z', BERLIN), utc('2026-03-30T02:30:00+02:00'));
  assert.equal(nextIso('02:30', '2026-03-27T12:00:00Z', BERLIN), utc('2026-03-28T02:30:00+01:00'));
  // times after the jump still elapse
  assert.equal(nextIso('03:00', '2026-03-28T12:00:00Z', BERLIN), utc('2026-03-29T03:00:00+02:00'));
  assert.equal(nextIso('*:30', '2026-03-29T01:40:00+01:00', BERLIN), utc('2026-03-29T03:30:00+02:00'));
  assert.deepEqual(series('*:0/30', '2026-03-29T01:00:00+01:00', BERLIN, 3), [
    utc('2026-03-29T01:30:00+01:00'),
    utc('2026-03-29T03:00:00+02:00'),
    utc('2026-03-29T03:30:00+02:00'),
  ]);
  assert.equal(nextIso('*:*:*', '2026-03-29T01:59:59+01:00', BERLIN), utc('2026-03-29T03:00:00+02:00'));
});

test('DST fall back in Europe/Berlin: a repeated local time elapses once', () => {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and again at 01:30Z
  assert.deepEqual(series('02:30', '2026-10-24T12:00:00Z', BERLIN, 3), [
    utc('2026-10-25T02:30:00+02:00'),
    utc('2026-10-26T02:30:00+01:00'),
    utc('2026-10-27T02:30:00+01:00'),
  ]);
  // a search that starts in the second pass of the repeated hour does not fire it again
  assert.equal(nextIso('02:30', '2026-10-25T02:10:00+01:00', BERLIN), utc('2026-10-26T02:30:00+01:00'));
  assert.equal(nextIso('*:0/15', '2026-10-25T02:10:00+01:00', BERLIN), utc('2026-10-25T03:00:00+01:00'));
  // every wall-clock time once, then on past the repeated hour
  assert.deepEqual(series('*:0/15', '2026-10-25T01:50:00+02:00', BERLIN, 6), [
    utc('2026-10-25T02:00:00+02:00'),
    utc('2026-10-25T02:15:00+02:00'),
    utc('2026-10-25T02:30:00+02:00'),
    utc('2026-10-25T02:45:00+02:00'),
    utc('2026-10-25T03:00:00+01:00'),
    utc('2026-10-25T03:15:00+01:00'),
  ]);
  assert.equal(nextIso('daily', '2026-10-24T12:00:00Z', BERLIN), utc('2026-10-25T00:00:00+02:00'));
  assert.equal(nextIso('daily', '2026-10-25T00:00:00+02:00', BERLIN), utc('2026-10-26T00:00:00+01:00'));
});

test('undefined time zone means the host zone', () => {
  const host = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const event = parseCalendarEvent('mon..fri 02:00');
  const t = Date.parse(FRIDAY) / 1000;
  assert.equal(nextCalendarEvent(event, t), nextCalendarEvent(event, t, host));
  assert.throws(
    () => nextCalendarEvent(event, t, 'Nowhere/Special'),
    (err: unknown) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE') && /time zone/.test(err.message),
  );
});

test('agrees with the examples of proxmox-time (computed in UTC)', () => {
  const MIN = 60;
  const HOUR = 3600;
  const DAY = 86_400;
  const THU = 0; // 1970-01-01T00:00:00Z was a Thursday
  const JUL_31_2020 = Date.parse('2020-07-31T00:00:00Z') / 1000; // a Friday
  const DEC_31_2020 = Date.parse('2020-12-31T00:00:00Z') / 1000; // a Thursday
  const examples: [string, number, number][] = [
    ['0', THU, THU + HOUR],
    ['*', THU, THU + MIN],
    ['*:0', THU, THU + HOUR],
    ['*:*', THU, THU + MIN],
    ['*:*:*', THU, THU + 1],
    ['*:3:5', THU, THU + 3 * MIN + 5],
    ['mon *:*', THU, THU + 4 * DAY],
    ['mon 2:*', THU, THU + 4 * DAY + 2 * HOUR],
    ['mon 2:50', THU, THU + 4 * DAY + 2 * HOUR + 50 * MIN],
    ['tue', THU, THU + 5 * DAY],
    ['wed', THU, THU + 6 * DAY],
    ['thu', THU, THU + 7 * DAY],
    ['fri', THU, THU + DAY],
    ['sat', THU, THU + 2 * DAY],
    ['sun', THU, THU + 3 * DAY],
    ['4..10/2:0', THU, THU + 4 * HOUR],
    ['4..10/2:0', THU + 5 * HOUR, THU + 6 * HOUR],
    ['4..10/2:0', THU + 11 * HOUR, THU + DAY + 4 * HOUR],
    ['5,10:4,8', THU, THU + 5 * HOUR + 4 * MIN],
    ['10,5:8,4', THU, THU + 5 * HOUR + 4 * MIN],
    ['6,4..10:23,5/5', THU, THU + 4 * HOUR + 5 * MIN],
    ['4..10,6:5/5,23', THU, THU + 4 * HOUR + 5 * MIN],
    ['sat', JUL_31_2020, JUL_31_2020 + DAY],
    ['thu', JUL_31_2020, JUL_31_2020 + 6 * DAY],
    ['fri', JUL_31_2020, JUL_31_2020 + 7 * DAY],
    ['fri', DEC_31_2020, DEC_31_2020 + DAY],
    ['wed', DEC_31_2020, DEC_31_2020 + 6 * DAY],
    ['daily', THU, THU + DAY],
    ['daily', THU + 1, THU + DAY],
    ['5/2:0', THU, THU + 5 * HOUR],
    ['5/2:0', THU + 5 * HOUR, THU + 7 * HOUR],
    ['1:0', THU + 15 * HOUR, THU + DAY + HOUR],
    ['2020-07-31', 0, JUL_31_2020],
    ['02-28', 0, (31 + 27) * DAY],
    ['02-29', 0, 2 * 365 * DAY + (31 + 28) * DAY], // 1972-02-29
    ['1965/5-01-01', -1, THU],
    ['2020-7..9-2/2', JUL_31_2020, JUL_31_2020 + 2 * DAY],
    ['2020,2021-12-31', JUL_31_2020, DEC_31_2020],
    ['monthly', 0, 31 * DAY],
    ['quarterly', 0, (31 + 28 + 31) * DAY],
    ['semiannually', 0, (31 + 28 + 31 + 30 + 31 + 30) * DAY],
    ['yearly', 0, 365 * DAY],
  ];
  for (const [text, after, expected] of examples)
    assert.equal(nextCalendarEvent(parseCalendarEvent(text), after, 'UTC'), expected, text);
  // 100 steps of a few series, as proxmox-time checks them
  for (const [text, from, step] of [
    ['*:*', THU, MIN],
    ['*:0', THU, HOUR],
    ['1:0', THU + HOUR, DAY],
  ] as const) {
    const event = parseCalendarEvent(text);
    let t = from;
    for (let i = 1; i < 100; i++) {
      const next = nextCalendarEvent(event, t, 'UTC');
      assert.equal(next, from + i * step, `${text} step ${i}`);
      t = from + i * step;
    }
  }
  assert.equal(nextCalendarEvent(parseCalendarEvent('2021-02-29'), 0, 'UTC'), undefined);
  assert.equal(nextCalendarEvent(parseCalendarEvent('02-30'), 0, 'UTC'), undefined);
  // weekday spellings proxmox-time accepts
  for (const text of ['mon,wed..fri', 'fri..mon', 'MON', 'monDay', 'Tuesday', 'mon,tue..wednesday,fri..sat'])
    assert.doesNotThrow(() => parseCalendarEvent(text), text);
});

test('agrees with a brute-force search in UTC', () => {
  const events = [
    'mon..fri 02:00',
    '*:0/15',
    '0/6:00',
    'sat *-1..7 15:00',
    '2,14:30',
    'sun,wed 8..18/5:5,50',
    '*-*-28..31 23:00',
  ];
  const matches = (e: CalendarEvent, t: number): boolean => {
    const d = new Date(t * 1000);
    const hit = (ranges: readonly { from: number; to: number; step: number }[], v: number): boolean =>
      ranges.length === 0 || ranges.some((r) => v >= r.from && v <= r.to && (v - r.from) % r.step === 0);
    const wd = (d.getUTCDay() + 6) % 7;
    return (
      (e.weekdays === 0 || (e.weekdays & (1 << wd)) !== 0) &&
      hit(e.year, d.getUTCFullYear()) &&
      hit(e.month, d.getUTCMonth() + 1) &&
      hit(e.day, d.getUTCDate()) &&
      hit(e.hour, d.getUTCHours()) &&
      hit(e.minute, d.getUTCMinutes()) &&
      hit(e.second, d.getUTCSeconds())
    );
  };
  for (const text of events) {
    const event = parseCalendarEvent(text);
    for (const start of ['2026-01-30T17:03:00Z', '2026-02-27T23:59:00Z', '2028-02-28T06:00:00Z']) {
      const after = Date.parse(start) / 1000;
      let expected: number | undefined;
      for (let t = after + 60; t < after + 40 * 86_400; t += 60) {
        if (matches(event, t)) {
          expected = t;
          break;
        }
      }
      assert.equal(nextCalendarEvent(event, after, 'UTC'), expected, `${text} after ${start}`);
    }
  }
});

test('an impossible event gives up (undefined) instead of searching forever; possible ones are always found', () => {
  // Speed is not asserted here (this machine is shared); the search is bounded by construction: it jumps field by
  // field and stops 500 years on.
  assert.equal(nextCalendarEvent(parseCalendarEvent('*-02-30'), 1_767_225_600, BERLIN), undefined);
  assert.equal(nextCalendarEvent(parseCalendarEvent('*-04-31 12:00'), 1_767_225_600, BERLIN), undefined);
  for (const text of [
    'daily',
    'mon..fri 02:00',
    '*:0/15',
    'sat *-1..7 15:00',
    '*-02-29',
    '2099-12-31 23:59:59',
  ]) {
    const event = parseCalendarEvent(text);
    for (let i = 0; i < 100; i++) {
      const after = 1_767_225_600 + i * 7_777_777;
      if (after >= Date.UTC(2099, 11, 31) / 1000 && text.startsWith('2099')) continue;
      const next = nextCalendarEvent(event, after, BERLIN);
      assert.ok(next !== undefined && next > after, `${text} after ${after}: ${next}`);
    }
  }
});

test('rejects malformed calendar events, naming the problem', () => {
  assert.throws(
    () => parseCalendarEvent('mon..frx 02:00'),
    (err: unknown) =>
      isFerryError(err, 'FERRY_ERR_INVALID_VALUE') &&
      err.message === 'invalid calendar event "mon..frx 02:00": unknown weekday "frx"',
  );
  rejects('', /empty/);
  rejects(`${'1,'.repeat(64)}1`, /longer than 128 characters/);
  rejects(42 as unknown as string, /not a string/);
  rejects('foo', /unknown weekday "foo"/);
  rejects('mo 02:00', /unknown weekday "mo"/);
  rejects('daily 02:00', /shorthand "daily" must stand alone/);
  rejects('Daily', /shorthand "Daily" must be lowercase/);
  rejects('24:00', /hour 24 out of range 0\.\.23/);
  rejects('12:60', /minute 60 out of range 0\.\.59/);
  rejects('12:00:60', /second 60 out of range 0\.\.59/);
  rejects('60', /minute 60 out of range/);
  rejects('99999999999999999999', /minute 99999999999999999999 out of range/);
  rejects('2026-13-01', /month 13 out of range 1\.\.12/);
  rejects('*-0-01', /month 0 out of range 1\.\.12/);
  rejects('*-*-0', /day 0 out of range 1\.\.31/);
  rejects('*-*-32', /day 32 out of range 1\.\.31/);
  rejects('2200-01-01', /year 2200 out of range 0\.\.2199/);
  rejects('*:0/0', /repetition 0 in minute/);
  rejects('*/0:00', /repetition 0 in hour/);
  rejects('1/0:00', /repetition 0 in hour/);
  rejects('*:*/60', /repetition 60 in minute too large/);
  rejects('10..5:00', /reversed range 10\.\.5 in hour/);
  rejects('*-12..1-1', /reversed range 12\.\.1 in month/);
  rejects('mon 02:00 foo', /unexpected " foo"/);
  rejects('02:00 Europe/Berlin', /unexpected " Europe\/Berlin"/);
  rejects('12:30 utc', /unexpected " utc"/);
  rejects('02:00:00:00', /a time is HOUR:MINUTE\[:SECOND\] or MINUTE/);
  rejects('1-2-3-4', /a date is YEAR-MONTH-DAY or MONTH-DAY/);
  rejects('02:', /expected a time value after ":"/);
  rejects('2026-', /expected a month or day after "-"/);
  rejects('mon,', /expected a weekday/);
  rejects('mon..', /expected a weekday/);
  rejects('*,5:00', /"\*" cannot be part of a list/);
  rejects('1..', /expected a number after "\.\."/);
  rejects('*/x', /expected a number after "\/"/);
  rejects('00:00:00.5', /decimal values are not supported/);
  rejects('*-02~1', /"~" .*not supported/);
  rejects('UTC', /no date or time before "UTC"/);
  rejects(' daily', /white space/);
  rejects('daily ', /white space/);
  rejects('/5', /expected a weekday, date or time/);
  rejects('-1', /expected a weekday, date or time/);
});
