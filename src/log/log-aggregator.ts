import type { MessagePort } from 'node:worker_threads';
import type { Clock } from '../model/index.js';

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogLine {
  /** The group label (`vm/100`), or undefined for job-level lines. */
  label: string | undefined;
  level: LogLevel;
  msg: string;
  /** When the line was produced (ms since the epoch). */
  time: number;
}

/** What crosses a worker's MessagePort into the aggregator. */
export type LogMessage = { type: 'line'; line: LogLine } | { type: 'flush'; label: string };

export interface LogAggregatorOptions {
  /** Lines kept per label before they are written together; 0 writes every line at once (worker-threads 1). */
  maxLines: number;
  /** A label's lines are written once its oldest is this old. */
  maxAgeMs: number;
  clock: Clock;
  /** Receives runs of lines; a run holds one label's lines, contiguous and in order. */
  sink: (lines: LogLine[]) => void;
}

interface Buffered {
  oldest: number;
  lines: LogLine[];
}

/**
 * The per-group log aggregator of a sync job (PBS's BufferedLogger, with its fixes): each group's lines are kept
 * together and written in runs of up to `maxLines`, so a task log stays readable with many groups at work. A label
 * is flushed when it holds `maxLines` lines, when its oldest line is `maxAgeMs` old (checked by `tick`, which a timer
 * calls), when its group ends (`flushLabel`) and at `close`. A flushed label is forgotten, so memory stays bounded by
 * the groups in progress.
 */
export class LogAggregator {
  private readonly options: LogAggregatorOptions;
  private readonly buffers = new Map<string, Buffered>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: LogAggregatorOptions) {
    this.options = options;
  }

  /** Starts a timer that calls `tick` a few times per `maxAgeMs` (not needed when the caller ticks itself). */
  startTimer(): void {
    if (this.options.maxLines === 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.max(10, this.options.maxAgeMs / 4));
    this.timer.unref();
  }

  push(line: LogLine): void {
    if (line.label === undefined || this.options.maxLines === 0) {
      if (line.label !== undefined) this.flushLabel(line.label);
      this.options.sink([line]);
      return;
    }
    let buffered = this.buffers.get(line.label);
    if (buffered === undefined) {
      buffered = { oldest: this.options.clock.now(), lines: [] };
      this.buffers.set(line.label, buffered);
    }
    buffered.lines.push(line);
    if (buffered.lines.length >= this.options.maxLines) this.flushLabel(line.label);
  }

  flushLabel(label: string): void {
    const buffered = this.buffers.get(label);
    if (buffered === undefined) return;
    this.buffers.delete(label);
    if (buffered.lines.length > 0) this.options.sink(buffered.lines);
  }

  /** Writes every label whose oldest line has waited `maxAgeMs`. */
  tick(): void {
    const now = this.options.clock.now();
    for (const [label, buffered] of this.buffers) {
      if (now - buffered.oldest >= this.options.maxAgeMs) this.flushLabel(label);
    }
  }

  /**
   * Feeds the aggregator from a worker's port (lines and group-end flushes). Resolves once the group's flush has
   * arrived (every line sent before it is in) or the port closed: the caller closes its end only then, as lines still
   * in the port when it closes are lost.
   */
  attach(port: MessagePort): Promise<void> {
    return new Promise((resolve) => {
      port.on('message', (message: LogMessage) => {
        if (message.type === 'line') this.push(message.line);
        else {
          this.flushLabel(message.label);
          resolve();
        }
      });
      port.once('close', () => resolve());
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const label of [...this.buffers.keys()]) this.flushLabel(label);
  }
}
