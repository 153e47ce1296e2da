/**
 * Progress counters shared by the threads of a sync job: a SharedArrayBuffer of 64-bit integers, one row per worker
 * slot plus a total row, updated with Atomics (workers add, the coordinator reads for the progress display, the API
 * and the summary). Plain numbers cross no message channel, so counting costs nothing on the hot path.
 */
export const PROGRESS_FIELDS = [
  'bytesFetched',
  'chunksFetched',
  'bytesReused',
  'chunksReused',
  'chunksProven',
  'snapshotsDone',
  'snapshotsTotal',
  'archiveBytesDone',
] as const;
export type ProgressField = (typeof PROGRESS_FIELDS)[number];

const FIELD_INDEX = Object.fromEntries(PROGRESS_FIELDS.map((f, i) => [f, i])) as Record<
  ProgressField,
  number
>;
const WIDTH = PROGRESS_FIELDS.length;

export type ProgressRow = Record<ProgressField, number>;

export class ProgressCounters {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  private readonly cells: BigInt64Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.cells = new BigInt64Array(buffer);
    this.slots = this.cells.length / WIDTH - 1;
  }

  static create(slots: number): ProgressCounters {
    return new ProgressCounters(new SharedArrayBuffer((slots + 1) * WIDTH * 8));
  }

  /** Attaches to counters created in another thread. */
  static attach(buffer: SharedArrayBuffer): ProgressCounters {
    return new ProgressCounters(buffer);
  }

  /** Adds to a slot's counter and to the total. */
  add(slot: number, field: ProgressField, amount: number): void {
    if (amount === 0) return;
    const value = BigInt(amount);
    Atomics.add(this.cells, slot * WIDTH + FIELD_INDEX[field], value);
    Atomics.add(this.cells, this.slots * WIDTH + FIELD_INDEX[field], value);
  }

  /** Sets a slot's counter without touching the total (per-group figures such as snapshotsTotal). */
  set(slot: number, field: ProgressField, value: number): void {
    Atomics.store(this.cells, slot * WIDTH + FIELD_INDEX[field], BigInt(value));
  }

  row(slot: number | 'total'): ProgressRow {
    const base = (slot === 'total' ? this.slots : slot) * WIDTH;
    const out = {} as ProgressRow;
    for (const f of PROGRESS_FIELDS) out[f] = Number(Atomics.load(this.cells, base + FIELD_INDEX[f]));
    return out;
  }

  /** Clears a slot for its next group (the total keeps counting). */
  resetSlot(slot: number): void {
    for (let i = 0; i < WIDTH; i++) Atomics.store(this.cells, slot * WIDTH + i, 0n);
  }
}
