import { invalid } from './safe-id.js';

/**
 * Calendar events: the `schedule` of sync, prune and verify jobs and a datastore's `gc-schedule`, read the way PBS
 * (proxmox-time) reads them — systemd.time(7) calendar events, restricted as PBS restricts them.
 *
 * Accepted (at most 128 characters, no leading or trailing white space):
 *   - a shorthand, alone: `minutely` (second 0 of every minute), `hourly` (hh:00:00), `daily` (00:00:00), `weekly`
 *     (Monday 00:00:00), `monthly` (day 1, 00:00:00), `yearly`/`annually` (January 1), `quarterly` (January, April,
 *     July, October 1), `semiannually`/`semi-annually` (January and July 1); shorthands are lowercase;
 *   - otherwise up to three parts in this order, at least one of them, separated by optional spaces:
 *       weekdays: `mon`, `Monday`, `mon..fri`, `sat,sun`, `mon,wed..fri` (any case; a range may wrap: `fri..mon`);
 *       date: `YEAR-MONTH-DAY` or `MONTH-DAY`;
 *       time: `HOUR:MINUTE`, `HOUR:MINUTE:SECOND`, or a single value, which is the MINUTE of every hour (`30` is
 *             hh:30:00, as in PBS); seconds default to 0;
 *     with no time part the event is at 00:00:00; with no date or weekday part it is every day.
 *   - each field is `*` (any), `*` `/` step (from the field's first value: 0 for years and times, 1 for months and
 *     days), or a comma list of values `5`, ranges `1..7` and repetitions `1/7`, `1..12/2` (start, step, optional
 *     end); hours 0..23, minutes and seconds 0..59, months 1..12, days 1..31, years 0..2199;
 *   - an optional ` UTC` suffix: the event is computed in UTC whatever time zone the caller passes.
 * Rejected, each with a message naming the problem: unknown words, out-of-range values, a step of 0, a reversed
 * range, `*` inside a list, decimal values, `~` (last days of a month; PBS does not support it either), anything
 * left over after the parts above.
 *
 * The next elapse is searched field by field (year, month, day, weekday, hour, minute, second), jumping to the next
 * matching value of a field and resetting the smaller ones, over local wall-clock time in the given time zone;
 * wall-clock times are converted to epoch seconds with Intl. Daylight saving time:
 *   - a wall-clock time that does not exist (clocks jump forward) is read with the offset before the jump, i.e. moved
 *     forward by the jump's length, and the search goes on from there, as PBS (mktime) does: `02:30` does not elapse
 *     on a day whose 02:00..03:00 is skipped, while `*:30` elapses at 03:30;
 *   - a wall-clock time that happens twice (clocks go back) elapses once, at its first occurrence; when the search
 *     starts inside the repeated hour's second pass, it resumes after the repeated hour.
 * The search gives up (undefined) when no year is left or nothing matched within 500 years (e.g. `*-02-30`).
 */

/** A value set of one field: the values from..to that are `from` plus a multiple of `step`. */
export interface CalendarRange {
  readonly from: number;
  readonly to: number;
  readonly step: number;
}

export interface CalendarEvent {
  /** The text it was parsed from. */
  readonly text: string;
  /** Computed in UTC whatever the caller's time zone (a `UTC` suffix). */
  readonly utc: boolean;
  /** Weekdays as bits, Monday 1, Tuesday 2, … Sunday 64; 0 for any day. */
  readonly weekdays: number;
  /** Each field's value sets; empty for any value. */
  readonly year: readonly CalendarRange[];
  readonly month: readonly CalendarRange[];
  readonly day: readonly CalendarRange[];
  readonly hour: readonly CalendarRange[];
  readonly minute: readonly CalendarRange[];
  readonly second: readonly CalendarRange[];
}

const WHAT = 'calendar event';
const MAX_LENGTH = 128;
/** Beyond this many years after the start, an event is taken never to elapse (the Gregorian calendar repeats every 400). */
const MAX_YEARS_AHEAD = 500;
const ALL_WEEKDAYS = 0x7f;

type FieldName = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';
interface FieldSpec {
  readonly min: number;
  readonly max: number;
  /** Where `*` / step starts. */
  readonly first: number;
  /** Whether an open repetition (`1965/5`) goes on past `max`. */
  readonly open: boolean;
}
const FIELDS: Readonly<Record<FieldName, FieldSpec>> = {
  year: { min: 0, max: 2199, first: 0, open: true },
  month: { min: 1, max: 12, first: 1, open: false },
  day: { min: 1, max: 31, first: 1, open: false },
  hour: { min: 0, max: 23, first: 0, open: false },
  minute: { min: 0, max: 59, first: 0, open: false },
  second: { min: 0, max: 59, first: 0, open: false },
};

const WEEKDAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const ZERO: readonly CalendarRange[] = [{ from: 0, to: 0, step: 1 }];
const ONE: readonly CalendarRange[] = [{ from: 1, to: 1, step: 1 }];
const singles = (...values: number[]): CalendarRange[] => values.map((v) => ({ from: v, to: v, step: 1 }));

type Shape = Omit<CalendarEvent, 'text' | 'utc'>;
const ANY: Shape = { weekdays: 0, year: [], month: [], day: [], hour: [], minute: [], second: [] };
const MIDNIGHT = { hour: ZERO, minute: ZERO, second: ZERO };
const SHORTHANDS: Readonly<Record<string, Shape>> = {
  minutely: { ...ANY, second: ZERO },
  hourly: { ...ANY, minute: ZERO, second: ZERO },
  daily: { ...ANY, ...MIDNIGHT },
  weekly: { ...ANY, ...MIDNIGHT, weekdays: 1 },
  monthly: { ...ANY, ...MIDNIGHT, day: ONE },
  yearly: { ...ANY, ...MIDNIGHT, day: ONE, month: ONE },
  annually: { ...ANY, ...MIDNIGHT, day: ONE, month: ONE },
  quarterly: { ...ANY, ...MIDNIGHT, day: ONE, month: singles(1, 4, 7, 10) },
  semiannually: { ...ANY, ...MIDNIGHT, day: ONE, month: singles(1, 7) },
  'semi-annually': { ...ANY, ...MIDNIGHT, day: ONE, month: singles(1, 7) },
};

/** One field as written, before it is known whether it is a year, a month, an hour, … */
interface RawField {
  star: boolean;
  /** For `*`: the step, if any. */
  starStep: string | undefined;
  items: { from: string; to: string | undefined; step: string | undefined }[];
}

/** Parses a calendar event; throws FERRY_ERR_INVALID_VALUE naming what is wrong. */
export function parseCalendarEvent(text: string): CalendarEvent {
  if (typeof text !== 'string') invalid(WHAT, text, 'not a string');
  if (text.length === 0) invalid(WHAT, text, 'empty');
  if (text.length > MAX_LENGTH) invalid(WHAT, text, `longer than ${MAX_LENGTH} characters`);
  if (text.trim() !== text) invalid(WHAT, text, 'leading or trailing white space');
  if (text.includes('~'))
    invalid(WHAT, text, '"~" (days counted from the end of the month) is not supported, as in PBS');

  let body = text;
  let utc = false;
  const suffix = /[ \t]*UTC$/.exec(body);
  if (suffix) {
    utc = true;
    body = body.slice(0, suffix.index);
    if (body === '') invalid(WHAT, text, 'no date or time before "UTC"');
  }
  const shorthand = Object.hasOwn(SHORTHANDS, body) ? SHORTHANDS[body] : undefined;
  if (shorthand) return { text, utc, ...shorthand };

  const fail = (why: string): never => invalid(WHAT, text, why);
  let pos = 0;
  const at = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) return undefined;
    pos += m[0].length;
    return m[0];
  };
  const skipSpaces = (): void => {
    at(/[ \t]*/y);
  };
  const rest = (): string => body.slice(pos);

  // weekdays
  let weekdays = 0;
  const weekday = (): number => {
    const word = at(/[A-Za-z]+/y);
    if (word === undefined) return fail(`expected a weekday at "${rest()}"`);
    const lower = word.toLowerCase();
    const index = WEEKDAY_NAMES.findIndex((name) => name === lower || name.slice(0, 3) === lower);
    if (index >= 0) return index;
    if (Object.hasOwn(SHORTHANDS, lower))
      return lower === word
        ? fail(`shorthand "${word}" must stand alone (only "UTC" may follow it)`)
        : fail(`shorthand "${word}" must be lowercase`);
    return fail(`unknown weekday "${word}"`);
  };
  if (/^[A-Za-z]/.test(body)) {
    for (;;) {
      const start = weekday();
      let end = start;
      if (at(/\.\./y) !== undefined) end = weekday();
      // a range may wrap around the week's end: fri..mon is fri, sat, sun, mon
      for (let d = start; ; d = (d + 1) % 7) {
        weekdays |= 1 << d;
        if (d === end) break;
      }
      if (at(/,/y) === undefined) break;
    }
    skipSpaces();
  }

  const field = (): RawField | undefined => {
    if (at(/\*/y) !== undefined) {
      let starStep: string | undefined;
      if (at(/\//y) !== undefined) starStep = number('"/"');
      if (body[pos] === ',') fail('"*" cannot be part of a list');
      return { star: true, starStep, items: [] };
    }
    if (!/[0-9]/.test(body.charAt(pos))) return undefined;
    const items: RawField['items'] = [];
    do {
      const from = number(items.length === 0 ? 'start' : '","');
      const to = at(/\.\./y) !== undefined ? number('".."') : undefined;
      const step = at(/\//y) !== undefined ? number('"/"') : undefined;
      items.push({ from, to, step });
    } while (at(/,/y) !== undefined);
    return { star: false, starStep: undefined, items };
  };
  const number = (after: string): string => {
    const digits = at(/[0-9]+/y);
    if (digits === undefined)
      return fail(
        after === 'start' ? `expected a number at "${rest()}"` : `expected a number after ${after}`,
      );
    if (body[pos] === '.' && body[pos + 1] !== '.') fail(`decimal values are not supported ("${digits}.")`);
    return digits;
  };
  const check = (raw: RawField, name: FieldName): CalendarRange[] => {
    const spec = FIELDS[name];
    const value = (digits: string): number => {
      const v = Number(digits);
      if (v < spec.min || v > spec.max) fail(`${name} ${digits} out of range ${spec.min}..${spec.max}`);
      return v;
    };
    const step = (digits: string): number => {
      const v = Number(digits);
      if (v === 0) fail(`repetition 0 in ${name} (must be at least 1)`);
      if (v > spec.max) fail(`repetition ${digits} in ${name} too large (at most ${spec.max})`);
      return v;
    };
    const openEnd = spec.open ? Number.POSITIVE_INFINITY : spec.max;
    if (raw.star)
      return raw.starStep === undefined ? [] : [{ from: spec.first, to: openEnd, step: step(raw.starStep) }];
    return raw.items.map((item) => {
      const from = value(item.from);
      const to = item.to === undefined ? undefined : value(item.to);
      if (to !== undefined && to < from) fail(`reversed range ${item.from}..${item.to} in ${name}`);
      if (item.step === undefined) return { from, to: to ?? from, step: 1 };
      return { from, to: to ?? openEnd, step: step(item.step) };
    });
  };

  // date, then time
  let year: CalendarRange[] = [];
  let month: CalendarRange[] = [];
  let day: CalendarRange[] = [];
  let hour: CalendarRange[] = ZERO.slice();
  let minute: CalendarRange[] = ZERO.slice();
  let second: CalendarRange[] = ZERO.slice();
  let hasDate = false;
  let hasTime = false;
  let first = field();
  if (first !== undefined && body[pos] === '-') {
    const parts = [first];
    while (at(/-/y) !== undefined) {
      const next = field();
      if (next === undefined) fail(`expected a month or day after "-" at "${rest()}"`);
      else parts.push(next);
    }
    const [a, b, c] = parts;
    if (parts.length > 3 || a === undefined || b === undefined) fail('a date is YEAR-MONTH-DAY or MONTH-DAY');
    else if (c === undefined) {
      month = check(a, 'month');
      day = check(b, 'day');
    } else {
      year = check(a, 'year');
      month = check(b, 'month');
      day = check(c, 'day');
    }
    hasDate = true;
    skipSpaces();
    first = field();
  }
  if (first !== undefined) {
    const parts = [first];
    while (at(/:/y) !== undefined) {
      const next = field();
      if (next === undefined) fail(`expected a time value after ":" at "${rest()}"`);
      else parts.push(next);
    }
    const [a, b, c] = parts;
    if (parts.length > 3 || a === undefined) fail('a time is HOUR:MINUTE[:SECOND] or MINUTE');
    else if (b === undefined) {
      hour = [];
      minute = check(a, 'minute');
    } else {
      hour = check(a, 'hour');
      minute = check(b, 'minute');
      if (c !== undefined) second = check(c, 'second');
    }
    hasTime = true;
  }
  if (pos < body.length) {
    if (weekdays === 0 && !hasDate && !hasTime) fail(`expected a weekday, date or time at "${rest()}"`);
    fail(`unexpected "${rest()}"`);
  }
  return { text, utc, weekdays, year, month, day, hour, minute, second };
}

/**
 * The first time (epoch seconds, whole) strictly after `afterSeconds` at which the event elapses, in `timeZone`
 * (IANA name; undefined: the host's local time zone; ignored for a `UTC` event), or undefined when it never elapses
 * again.
 */
export function nextCalendarEvent(
  event: CalendarEvent,
  afterSeconds: number,
  timeZone?: string,
): number | undefined {
  if (typeof afterSeconds !== 'number' || !Number.isFinite(afterSeconds))
    invalid('time', afterSeconds, 'not a finite number');
  const zone = event.utc || timeZone === 'UTC' ? undefined : zoneOf(timeZone);
  const offset = (t: number): number => (zone === undefined ? 0 : zone(t) - t);
  const earliest = Math.floor(afterSeconds) + 1;
  const w = new Wall(earliest + offset(earliest));
  const lastYear = w.y + MAX_YEARS_AHEAD;
  const allDays = event.weekdays === 0 || event.weekdays === ALL_WEEKDAYS;

  for (let round = 0; round < 100_000; round++) {
    if (w.y > lastYear) return undefined;
    if (event.year.length > 0 && !contains(event.year, w.y)) {
      const n = nextValue(event.year, w.y);
      if (n === undefined || n > lastYear) return undefined;
      w.set(n, 1, 1);
      continue;
    }
    if (event.month.length > 0 && !contains(event.month, w.mo)) {
      const n = nextValue(event.month, w.mo);
      if (n !== undefined && n <= 12) w.set(w.y, n, 1);
      else w.set(w.y + 1, 1, 1);
      continue;
    }
    if (event.day.length > 0 && !contains(event.day, w.d)) {
      const n = nextValue(event.day, w.d);
      if (n !== undefined && n <= daysInMonth(w.y, w.mo)) w.set(w.y, w.mo, n);
      else w.nextMonth();
      continue;
    }
    if (!allDays) {
      const wd = weekdayOf(w.y, w.mo, w.d);
      if ((event.weekdays & (1 << wd)) === 0) {
        let k = 1;
        while ((event.weekdays & (1 << ((wd + k) % 7))) === 0) k++;
        w.addDays(k);
        continue;
      }
    }
    if (event.hour.length > 0 && !contains(event.hour, w.h)) {
      const n = nextValue(event.hour, w.h);
      if (n !== undefined && n <= 23) w.setTime(n, 0, 0);
      else w.addDays(1);
      continue;
    }
    if (event.minute.length > 0 && !contains(event.minute, w.mi)) {
      const n = nextValue(event.minute, w.mi);
      if (n !== undefined && n <= 59) w.setTime(w.h, n, 0);
      else w.nextHour();
      continue;
    }
    if (event.second.length > 0 && !contains(event.second, w.s)) {
      const n = nextValue(event.second, w.s);
      if (n !== undefined && n <= 59) w.setTime(w.h, w.mi, n);
      else w.nextMinute();
      continue;
    }

    // every field matches: find the wall-clock time's instant(s)
    const wall = w.seconds();
    const before = offset(wall - 86_400);
    const after = offset(wall + 86_400);
    const early = wall - before; // the instant if the earlier offset holds
    const late = wall - after; // the instant if the later offset holds
    const earlyOk = offset(early) === before;
    const lateOk = before === after ? earlyOk : offset(late) === after;
    let instant: number;
    if (earlyOk && lateOk) instant = Math.min(early, late);
    else if (earlyOk) instant = early;
    else if (lateOk) instant = late;
    else {
      // skipped by a jump forward: read with the offset before it, i.e. move forward by the jump, and go on
      const moved = early + offset(early);
      w.setSeconds(moved > wall ? moved : wall + 1);
      continue;
    }
    if (instant >= earliest) return instant;
    if (earlyOk && lateOk && early !== late) {
      // the second pass of a repeated hour, whose first pass is over: resume after the repeated hour
      let lo = Math.min(early, late); // still the offset before the change
      let hi = Math.max(early, late); // already the offset after it
      const old = offset(lo);
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offset(mid) === old) lo = mid;
        else hi = mid;
      }
      const end = hi + old;
      w.setSeconds(end > wall ? end : wall + 1);
      continue;
    }
    w.setSeconds(wall + 1);
  }
  return undefined;
}

function contains(ranges: readonly CalendarRange[], v: number): boolean {
  for (const r of ranges) if (v >= r.from && v <= r.to && (v - r.from) % r.step === 0) return true;
  return false;
}

/** The smallest value above `v` in any of the ranges. */
function nextValue(ranges: readonly CalendarRange[], v: number): number | undefined {
  let best: number | undefined;
  for (const r of ranges) {
    const n = v < r.from ? r.from : r.from + (Math.floor((v - r.from) / r.step) + 1) * r.step;
    if (n <= r.to && (best === undefined || n < best)) best = n;
  }
  return best;
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** 0 for Monday … 6 for Sunday. */
function weekdayOf(y: number, m: number, d: number): number {
  return (((daysFromCivil(y, m, d) + 3) % 7) + 7) % 7;
}

/** A wall-clock date and time (no time zone), edited field by field. */
class Wall {
  y = 1970;
  mo = 1;
  d = 1;
  h = 0;
  mi = 0;
  s = 0;

  constructor(seconds: number) {
    this.setSeconds(seconds);
  }

  /** Seconds since 1970-01-01T00:00:00 as if this wall-clock time were UTC. */
  seconds(): number {
    return daysFromCivil(this.y, this.mo, this.d) * 86_400 + this.h * 3600 + this.mi * 60 + this.s;
  }

  setSeconds(seconds: number): void {
    const days = Math.floor(seconds / 86_400);
    let rem = seconds - days * 86_400;
    this.setDays(days);
    this.h = Math.floor(rem / 3600);
    rem -= this.h * 3600;
    this.mi = Math.floor(rem / 60);
    this.s = rem - this.mi * 60;
  }

  private setDays(days: number): void {
    const z = days + 719_468;
    const era = Math.floor(z / 146_097);
    const doe = z - era * 146_097;
    const yoe = Math.floor(
      (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
    );
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    this.d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    this.mo = mp < 10 ? mp + 3 : mp - 9;
    this.y = yoe + era * 400 + (this.mo <= 2 ? 1 : 0);
  }

  /** Sets the date (a valid one) at 00:00:00. */
  set(y: number, mo: number, d: number): void {
    this.y = y;
    this.mo = mo;
    this.d = d;
    this.setTime(0, 0, 0);
  }

  setTime(h: number, mi: number, s: number): void {
    this.h = h;
    this.mi = mi;
    this.s = s;
  }

  addDays(n: number): void {
    this.setDays(daysFromCivil(this.y, this.mo, this.d) + n);
    this.setTime(0, 0, 0);
  }

  nextMonth(): void {
    if (this.mo === 12) this.set(this.y + 1, 1, 1);
    else this.set(this.y, this.mo + 1, 1);
  }

  nextHour(): void {
    if (this.h === 23) this.addDays(1);
    else this.setTime(this.h + 1, 0, 0);
  }

  nextMinute(): void {
    if (this.mi === 59) this.nextHour();
    else this.setTime(this.h, this.mi + 1, 0);
  }
}

const zones = new Map<string, (t: number) => number>();

/** A function giving the wall-clock time (seconds, as if UTC) of an epoch time in a time zone (undefined: local). */
function zoneOf(timeZone: string | undefined): (t: number) => number {
  const key = timeZone ?? '';
  const known = zones.get(key);
  if (known) return known;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      ...(timeZone === undefined ? {} : { timeZone }),
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return invalid('time zone', timeZone, 'not a known IANA time zone');
  }
  const wallOf = (t: number): number => {
    let y = 0;
    let mo = 1;
    let d = 1;
    let h = 0;
    let mi = 0;
    let s = 0;
    let bc = false;
    for (const p of format.formatToParts(t * 1000)) {
      switch (p.type) {
        case 'era':
          bc = p.value.startsWith('B');
          break;
        case 'year':
          y = Number(p.value);
          break;
        case 'month':
          mo = Number(p.value);
          break;
        case 'day':
          d = Number(p.value);
          break;
        case 'hour':
          h = Number(p.value);
          break;
        case 'minute':
          mi = Number(p.value);
          break;
        case 'second':
          s = Number(p.value);
          break;
      }
    }
    if (bc) y = 1 - y;
    return daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
  };
  zones.set(key, wallOf);
  return wallOf;
}
