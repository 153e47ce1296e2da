import { type JobKind, nextRunBase, readJobState } from '../config/index.js';
import { nextCalendarEvent, parseCalendarEvent } from '../model/index.js';
import { formatEpochSeconds } from './output.js';

/** What `sync-job list`, `prune-job list`, `verify-job list` and `datastore list` show of a scheduled job's runs. */

/**
 * A job's last run and next run (epoch seconds), with PBS's field names (`JobScheduleStatus`): what `sync-job list`
 * shows. The next run counts from the last run's start, or from when a scheduler first saw the job, or from now.
 */
export interface JobScheduleStatus {
  'next-run'?: number;
  'last-run-upid'?: string;
  'last-run-state'?: string;
  'last-run-endtime'?: number;
}

export async function jobScheduleStatus(
  home: string,
  kind: JobKind,
  id: string,
  schedule: string | undefined,
  nowSeconds: number,
  timeZone?: string,
): Promise<JobScheduleStatus> {
  const state = await readJobState(home, kind, id);
  const status: JobScheduleStatus = {};
  if (state.last !== undefined) {
    status['last-run-upid'] = state.last.task;
    status['last-run-state'] = state.last.state ?? 'running';
    if (state.last.ended !== undefined) status['last-run-endtime'] = state.last.ended;
  }
  if (schedule !== undefined) {
    // In the past: missed while no server ran; it runs as soon as a scheduler looks.
    const next = nextCalendarEvent(parseCalendarEvent(schedule), nextRunBase(state, nowSeconds), timeZone);
    if (next !== undefined) status['next-run'] = next;
  }
  return status;
}

/** A job's last and next run as table cells: `2026-11-28T02:00:07Z ok` (end and state), `-` for none. */
export function runCells(status: JobScheduleStatus): { last: string; next: string } {
  const state = status['last-run-state'];
  return {
    last:
      status['last-run-upid'] === undefined
        ? '-'
        : `${formatEpochSeconds(status['last-run-endtime'])} ${state ?? ''}`.trim(),
    next: formatEpochSeconds(status['next-run']),
  };
}

const TIME_KEYS = new Set(['next-run', 'last-run-endtime']);

/** A job's keys and schedule status as `key: value` lines (`show`), lists comma-separated, times in RFC 3339. */
export function formatJobLines(described: Record<string, unknown>): string {
  return Object.entries(described)
    .map(([k, v]) => {
      const text = TIME_KEYS.has(k) ? formatEpochSeconds(v) : Array.isArray(v) ? v.join(', ') : String(v);
      return `${k}: ${text}`;
    })
    .join('\n');
}
