import type { Command } from 'commander';

type Kind = 'value' | 'bool' | 'list';

/** Sync job keys as command-line options: `--worker-threads 4`, `--group-filter type:vm` (repeatable)… */
const JOB_OPTIONS: readonly [key: string, kind: Kind, description: string][] = [
  ['ns', 'value', 'local namespace anchor'],
  ['remote-ns', 'value', 'namespace anchor on the other side'],
  ['max-depth', 'value', 'namespace levels below the anchors (0-7, default: all)'],
  ['owner', 'value', 'owner of the groups synced (default root@pam)'],
  ['group-filter', 'list', 'type:vm | group:vm/100 | regex:RE, with include:/exclude: (repeatable)'],
  ['transfer-last', 'value', 'only the newest N snapshots of each group'],
  ['remove-vanished', 'bool', 'remove what vanished from the source (never protected snapshots)'],
  ['verified-only', 'bool', 'only snapshots whose last verification passed'],
  ['encrypted-only', 'bool', 'only snapshots whose archives are all encrypted'],
  ['resync-corrupt', 'bool', 're-sync local snapshots whose verification failed'],
  ['worker-threads', 'value', 'groups synced at once, each on its own thread (1-32, default 1)'],
  ['rate-in', 'value', 'incoming rate limit, e.g. 20MiB'],
  ['burst-in', 'value', 'incoming burst'],
  ['rate-out', 'value', 'outgoing rate limit'],
  ['burst-out', 'value', 'outgoing burst'],
  ['schedule', 'value', 'calendar event (stored for schedulers)'],
  ['comment', 'value', 'one line of text'],
];

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function addJobOptions(cmd: Command, except: readonly string[] = []): Command {
  for (const [key, kind, description] of JOB_OPTIONS) {
    if (except.includes(key)) continue;
    if (kind === 'bool') cmd.option(`--${key} [bool]`, description);
    else if (kind === 'list')
      cmd.option(`--${key} <value>`, description, (v: string, prev: string[] = []) => [...prev, v]);
    else cmd.option(`--${key} <value>`, description);
  }
  return cmd;
}

/** The job keys given on the command line, with their config names; `--flag` alone means true. */
export function jobValuesFromOptions(options: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, kind] of JOB_OPTIONS) {
    const v = options[camel(key)];
    if (v === undefined) continue;
    values[key] = kind === 'bool' && v === true ? 'true' : v;
  }
  return values;
}
