import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FerryError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { AuthId, Clock, Namespace, StoreName } from '../model/index.js';
import type { Datastore } from '../store/index.js';

/** What the table needs of a reader or writer session. */
export interface ServerSession {
  readonly id: string;
  readonly authId: AuthId;
  readonly kind: 'reader' | 'writer';
  /** Ends the session; a writer drops its unfinished snapshot and releases its locks. Idempotent. */
  close(reason: string): Promise<void>;
}

/** Where a session works and for whom: what every reader and writer session is made with. */
export interface SessionScope {
  id: string;
  authId: AuthId;
  store: StoreName;
  ds: Datastore;
  ns: Namespace;
}

export interface SessionLimits {
  /** A session with no request in flight for this long is closed. */
  idleMs: number;
  maxSessions: number;
  maxSessionsPerAuthId: number;
}

interface Entry {
  session: ServerSession;
  lastUsed: number;
  inFlight: number;
  /**
   * Ends what the session held besides itself (its datastore lease): run once, when the session has left the table
   * and its last request in flight (a download still streaming) is done.
   */
  ended: () => void;
  gone: boolean;
}

/** Marks an entry as gone from the table; runs its `ended` now, or when its last request in flight ends. */
function retire(entry: Entry): void {
  if (entry.gone) return;
  entry.gone = true;
  if (entry.inFlight === 0) entry.ended();
}

/** 16 random bytes as 32 hex characters. */
export function newSessionId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Open reader and writer sessions. A session belongs to the auth id that opened it: another token asking for it
 * gets "not found", as does a request for a closed or expired one. The count is bounded in total and per auth id
 * (FERRY_ERR_BUSY), and a sweep closes sessions idle longer than `idleMs` (a client that crashed or vanished), which
 * for a writer drops its unfinished snapshot and frees its group lock.
 */
export class SessionTable {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly limits: SessionLimits;
  private readonly log: Logger;
  private opening = new Map<AuthId, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { clock: Clock; limits: SessionLimits; log: Logger }) {
    this.clock = options.clock;
    this.limits = options.limits;
    this.log = options.log;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Starts the idle sweep (an unref'd timer). */
  start(): void {
    const every = Math.max(50, Math.min(5000, Math.floor(this.limits.idleMs / 4)));
    this.timer = setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  /**
   * Opens a session through `create`, within the limits. The slot is reserved before `create` runs (it may take
   * locks and touch the disk), so concurrent opens cannot overshoot the bound. `ended` runs once the session has
   * left the table (closed, finished, expired) or could not be opened: the session's datastore lease is released
   * there.
   */
  async open<S extends ServerSession>(
    authId: AuthId,
    create: () => Promise<S>,
    ended: () => void = () => undefined,
  ): Promise<S> {
    const pending = [...this.opening.values()].reduce((a, b) => a + b, 0);
    const mine =
      [...this.entries.values()].filter((e) => e.session.authId === authId).length +
      (this.opening.get(authId) ?? 0);
    if (this.entries.size + pending >= this.limits.maxSessions || mine >= this.limits.maxSessionsPerAuthId) {
      ended();
      throw new FerryError(
        'FERRY_ERR_BUSY',
        `too many open sessions (at most ${this.limits.maxSessions}, ${this.limits.maxSessionsPerAuthId} per token)`,
      );
    }
    this.opening.set(authId, (this.opening.get(authId) ?? 0) + 1);
    try {
      let session: S;
      try {
        session = await create();
      } catch (err) {
        ended();
        throw err;
      }
      this.entries.set(session.id, { session, lastUsed: this.clock.now(), inFlight: 0, ended, gone: false });
      return session;
    } finally {
      const left = (this.opening.get(authId) ?? 1) - 1;
      if (left === 0) this.opening.delete(authId);
      else this.opening.set(authId, left);
    }
  }

  private lookup(id: string, authId: AuthId, kind: ServerSession['kind']): Entry {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.session.authId !== authId || entry.session.kind !== kind) {
      throw new FerryError(
        'FERRY_ERR_NOT_FOUND',
        `${kind} session ${id} does not exist (closed, expired or never opened)`,
        {
          fields: { session: id },
        },
      );
    }
    return entry;
  }

  /**
   * Runs `fn` on a session, counting it in flight so the sweep leaves it alone. When `fn` returns a stream (a batch
   * download), the session stays in flight until the stream closes.
   */
  async use<S extends ServerSession, T>(
    id: string,
    authId: AuthId,
    kind: S['kind'],
    fn: (session: S) => Promise<T>,
  ): Promise<T> {
    const entry = this.lookup(id, authId, kind);
    entry.inFlight++;
    entry.lastUsed = this.clock.now();
    let streaming = false;
    try {
      const result = await fn(entry.session as S);
      if (isStream(result)) {
        streaming = true;
        result.once('close', () => this.release(entry));
      }
      return result;
    } finally {
      if (!streaming) this.release(entry);
    }
  }

  private release(entry: Entry): void {
    entry.inFlight--;
    entry.lastUsed = this.clock.now();
    if (entry.gone && entry.inFlight === 0) entry.ended();
  }

  /** Closes a session and forgets it. */
  async close(id: string, authId: AuthId, kind: ServerSession['kind'], reason: string): Promise<void> {
    const entry = this.lookup(id, authId, kind);
    this.entries.delete(id);
    try {
      await entry.session.close(reason);
    } finally {
      retire(entry);
    }
  }

  /** Forgets a session that ended by itself (a writer after `finish`). */
  forget(id: string): void {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    if (entry !== undefined) retire(entry);
  }

  /** Closes every session idle for longer than the limit. */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    for (const [id, entry] of this.entries) {
      if (entry.inFlight > 0 || now - entry.lastUsed < this.limits.idleMs) continue;
      this.entries.delete(id);
      this.log.info(
        { session: id, kind: entry.session.kind, authId: entry.session.authId },
        'closing idle session',
      );
      await entry.session.close('idle timeout').catch((err: unknown) => {
        this.log.error({ err, session: id }, 'closing an idle session failed');
      });
      retire(entry);
    }
  }

  async closeAll(reason: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) {
      await e.session.close(reason).catch((err: unknown) => {
        this.log.error({ err, session: e.session.id }, 'closing a session failed');
      });
      retire(e);
    }
  }
}

function isStream(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}
