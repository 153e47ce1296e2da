import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';

/**
 * The key of the message a piscina thread sends its pool once it has loaded the task module (piscina's `READY`,
 * not exported; piscina is pinned, and test/io/thread-pool.test.ts fails if it changes).
 */
const PISCINA_READY = '_WORKER_READY';

/** The longest destroy() waits for a thread to finish loading before it terminates it anyway. */
const LOAD_WAIT_MS = 15_000;

/**
 * A piscina pool whose destroy() and close() never terminate a thread that is still loading its modules.
 *
 * Node cannot stop a thread safely in the middle of loading a module: terminated while lmdb's native addon registers
 * itself, the addon (node-addon-api) tries to throw into a thread that may no longer run JavaScript, and the whole
 * process aborts (`FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw`); terminated while Node 20 finishes a
 * require() of an ES module, Node fails an assertion and aborts too. Piscina starts `minThreads` at once and its
 * destroy() terminates them wherever they are, so a pool destroyed soon after it started (a job that fails at once,
 * a short command, a server stopped right after start) could take the process down. destroy() here first waits
 * until every thread has loaded the task module (piscina's ready message) or exited, for at most LOAD_WAIT_MS.
 */
export class ThreadPool<Task, Result> extends Piscina<Task, Result> {
  /** Ids of threads that have loaded their module. */
  readonly #loaded = new Set<number>();
  /** Ids of the threads the constructor started. */
  readonly #first = new Set<number>();
  readonly #waiters = new Set<() => void>();

  constructor(options: ConstructorParameters<typeof Piscina>[0]) {
    super(options);
    // Piscina reports the threads it starts in its constructor as created at once, before they have loaded
    // anything; their own ready message says when they have.
    for (const worker of this.threads) {
      const id = worker.threadId;
      this.#first.add(id);
      const onMessage = (message: unknown) => {
        if (typeof message !== 'object' || message === null || !(PISCINA_READY in message)) return;
        worker.off('message', onMessage);
        this.#markLoaded(id);
      };
      worker.on('message', onMessage);
    }
    // Threads started later are reported once they are ready.
    this.on('workerCreate', (worker: { id: number }) => {
      if (!this.#first.has(worker.id)) this.#markLoaded(worker.id);
    });
    this.on('workerDestroy', (worker: { id: number }) => this.#loaded.delete(worker.id));
  }

  #markLoaded(id: number): void {
    this.#loaded.add(id);
    for (const wake of this.#waiters) wake();
  }

  /** Threads started but not yet loaded (a thread that exited has threadId -1 and counts as done). */
  #loading(): Worker[] {
    return this.threads.filter((w) => w.threadId >= 0 && !this.#loaded.has(w.threadId));
  }

  /** Resolves once no thread is loading any more, or at `deadline`. */
  async #allLoaded(deadline: number): Promise<void> {
    for (let loading = this.#loading(); loading.length > 0; loading = this.#loading()) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          for (const w of loading) w.off('exit', done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
        for (const w of loading) w.once('exit', done);
      });
    }
  }

  override async destroy(): Promise<void> {
    await this.#allLoaded(performance.now() + LOAD_WAIT_MS);
    await super.destroy();
  }

  /** Piscina's graceful close (the tasks given finish, then the threads stop), after the same wait as destroy(). */
  override async close(options?: Parameters<Piscina<Task, Result>['close']>[0]): Promise<void> {
    await this.#allLoaded(performance.now() + LOAD_WAIT_MS);
    await super.close(options);
  }
}
