import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import pretty from 'pino-pretty';
import { type DatastoreAccess, type DatastoreEntry, lookupDatastore, lookupRemote } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { type Clock, SYSTEM_CLOCK } from '../model/index.js';
import { FerryClient, type FerryClientOptions, remoteConnection } from '../remote/index.js';
import { ChunkPool, Datastore } from '../store/index.js';
import { formatTable } from './output.js';

export type OutputFormat = 'text' | 'json';

/** What every command gets: resolved global options, output, logging, the abort signal, and tracked resources. */
export class Runtime {
  readonly home: string;
  readonly format: OutputFormat;
  readonly log: Logger;
  readonly clock: Clock = SYSTEM_CLOCK;
  readonly signal: AbortSignal;
  private readonly stdout: (text: string) => void;
  private readonly closers: (() => Promise<void>)[] = [];
  private chunkPool: ChunkPool | undefined;

  constructor(fields: {
    home: string;
    format: OutputFormat;
    signal: AbortSignal;
    stdout: (text: string) => void;
    logLevel: string;
  }) {
    this.home = fields.home;
    this.format = fields.format;
    this.signal = fields.signal;
    this.stdout = fields.stdout;
    this.log = createLogger({
      level: fields.logLevel,
      destination: pretty({
        destination: 2,
        sync: true,
        colorize: false,
        translateTime: 'SYS:isoDateTime',
        ignore: 'pid,hostname',
      }),
    });
  }

  static fromCommand(
    cmd: Command,
    env: NodeJS.ProcessEnv,
    signal: AbortSignal,
    stdout: (text: string) => void,
  ): Runtime {
    const opts = cmd.optsWithGlobals<{ home?: string; outputFormat?: string }>();
    const format = opts.outputFormat ?? 'text';
    if (format !== 'text' && format !== 'json') {
      throw new FerryError(
        'FERRY_ERR_USAGE',
        `--output-format must be text or json, not ${JSON.stringify(format)}`,
      );
    }
    const home = resolve(opts.home ?? env['FERRY_HOME'] ?? join(homedir(), '.config', 'ferry'));
    return new Runtime({ home, format, signal, stdout, logLevel: env['FERRY_LOG_LEVEL'] ?? 'info' });
  }

  /** Prints a command's result: JSON as one line, or the given text. */
  print(json: unknown, text: () => string): void {
    this.stdout(this.format === 'json' ? JSON.stringify(json) : text());
  }

  printList(rows: Record<string, unknown>[], columns: string[], json: unknown = rows): void {
    this.print(json, () => (rows.length === 0 ? '(none)' : formatTable(rows, columns)));
  }

  /**
   * Prints lines as they come (a followed task log): on stdout as text; with JSON output on stderr, so that stdout
   * holds only the command's one JSON result.
   */
  printLines(lines: readonly string[]): void {
    if (lines.length === 0) return;
    if (this.format === 'json') process.stderr.write(`${lines.join('\n')}\n`);
    else this.stdout(lines.join('\n'));
  }

  /**
   * Opens the configured datastore `name` for an operation that will `access` it (named `what` in a refusal):
   * FERRY_ERR_MAINTENANCE when its maintenance mode does not allow that.
   */
  async openDatastore(name: string, access: DatastoreAccess, what?: string): Promise<Datastore> {
    return (await this.openDatastoreEntry(name, access, what)).ds;
  }

  /** openDatastore, with the datastore's configuration entry (its maintenance mode, say). */
  async openDatastoreEntry(
    name: string,
    access: DatastoreAccess,
    what?: string,
  ): Promise<{ ds: Datastore; entry: DatastoreEntry }> {
    const entry = await lookupDatastore(this.home, name, access, what);
    const ds = await Datastore.open(entry.path, { clock: this.clock });
    this.closers.push(() => ds.close());
    return { ds, entry };
  }

  /**
   * A client of the configured remote `name` (remote.cfg: its URL, token and pinned fingerprint), closed when the
   * command ends; `options` tune the transport (`connections: 1` for a few listing requests).
   */
  async openRemote(name: string, options: Partial<FerryClientOptions> = {}): Promise<FerryClient> {
    const entry = await lookupRemote(this.home, name);
    const client = new FerryClient({ ...remoteConnection(entry), log: this.log, ...options });
    this.closers.push(() => client.close());
    return client;
  }

  pool(): ChunkPool {
    if (!this.chunkPool) {
      const pool = new ChunkPool();
      this.chunkPool = pool;
      this.closers.push(() => pool.destroy());
    }
    return this.chunkPool;
  }

  onClose(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    for (const close of this.closers.reverse()) await close().catch(() => undefined);
  }
}
