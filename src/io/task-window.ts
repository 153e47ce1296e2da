/**
 * A bound on work in flight (chunk batches, verifications, uploads): `track` counts a started task until it settles,
 * `room` waits while `limit` or more are running, `drain` waits for all of them. Outcomes stay with the callers (a
 * task that rejects only frees its place here), so a window never throws.
 */
export class TaskWindow {
  private readonly limit: number;
  private readonly running = new Set<Promise<void>>();

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  get size(): number {
    return this.running.size;
  }

  track(task: Promise<unknown>): void {
    const settled: Promise<void> = task.then(
      () => void this.running.delete(settled),
      () => void this.running.delete(settled),
    );
    this.running.add(settled);
  }

  /** Resolves once fewer than `limit` tasks are running. */
  async room(): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
  }

  /** Resolves once every tracked task has settled (also those tracked while waiting). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }
}
