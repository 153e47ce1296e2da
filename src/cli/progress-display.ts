import { MultiBar, type SingleBar } from 'cli-progress';
import type { LogLine } from '../log/index.js';
import { formatBytes } from '../model/index.js';
import type { ProgressSnapshot } from '../sync/index.js';
import { formatTaskLine } from './task.js';

const QUIET_INTERVAL_MS = 10_000;

/**
 * Progress of a sync job. On a terminal: one bar per active group and a total bar (cli-progress), with log lines
 * printed above them. Off a terminal: a progress line every 10 s between the log lines.
 */
export class ProgressDisplay {
  private readonly tty: boolean;
  private readonly write: (text: string) => void;
  private readonly multibar: MultiBar | undefined;
  private readonly bars = new Map<string, SingleBar>();
  private total: SingleBar | undefined;
  private lastQuiet = 0;

  constructor(stream: NodeJS.WriteStream, enabled: boolean) {
    this.tty = enabled && stream.isTTY === true;
    this.write = (text) => stream.write(text);
    this.multibar = this.tty
      ? new MultiBar(
          {
            stream,
            format: ' {label} |{bar}| {value}/{total} {unit} | {fetched} fetched | {chunks} chunks | {rate}',
            hideCursor: true,
            clearOnComplete: true,
            barsize: 24,
            etaBuffer: 20,
          },
          undefined,
        )
      : undefined;
  }

  log(lines: readonly LogLine[]): void {
    const text = lines.map((l) => `${formatTaskLine(l)}\n`).join('');
    if (this.multibar?.isActive) this.multibar.log(text);
    else this.write(text);
  }

  update(p: ProgressSnapshot): void {
    const seconds = Math.max(0.001, p.elapsedMs / 1000);
    const rate = `${formatBytes(p.total.bytesFetched / seconds)}/s`;
    if (!this.multibar) {
      if (p.elapsedMs - this.lastQuiet < QUIET_INTERVAL_MS) return;
      this.lastQuiet = p.elapsedMs;
      this.write(
        `progress: ${p.groupsDone}/${p.groupsTotal} groups${p.groupsFailed ? ` (${p.groupsFailed} failed)` : ''}, ${formatBytes(p.total.bytesFetched)} in ${p.total.chunksFetched} chunks fetched (${rate}), ${p.total.chunksReused} reused\n`,
      );
      return;
    }
    this.total ??= this.multibar.create(
      p.groupsTotal,
      0,
      { label: 'total'.padEnd(12), unit: 'groups' },
      {
        format:
          ' {label} |{bar}| {value}/{total} {unit} | {fetched} fetched | {chunks} chunks | {rate} | ETA {eta_formatted}',
      },
    );
    this.total.setTotal(p.groupsTotal);
    this.total.update(p.groupsDone, {
      fetched: formatBytes(p.total.bytesFetched),
      chunks: p.total.chunksFetched,
      rate,
    });
    const seen = new Set<string>();
    for (const a of p.active) {
      seen.add(a.label);
      let bar = this.bars.get(a.label);
      if (!bar) {
        bar = this.multibar.create(Math.max(1, a.row.snapshotsTotal), 0, {
          label: a.label.padEnd(12).slice(0, 12),
          unit: 'snapshots',
        });
        this.bars.set(a.label, bar);
      }
      bar.setTotal(Math.max(1, a.row.snapshotsTotal));
      bar.update(a.row.snapshotsDone, {
        fetched: formatBytes(a.row.bytesFetched),
        chunks: a.row.chunksFetched,
        rate: '',
      });
    }
    for (const [label, bar] of this.bars) {
      if (!seen.has(label)) {
        this.multibar.remove(bar);
        this.bars.delete(label);
      }
    }
  }

  stop(): void {
    this.multibar?.stop();
  }
}
