import type { Command } from 'commander';
import { validateSyncJobValues } from '../../config/index.js';
import type { ActionFactory } from '../action.js';
import { failForStatus } from '../exit-codes.js';
import { addJobOptions, jobValuesFromOptions } from '../job-options.js';
import type { Runtime } from '../runtime.js';
import { LOCAL_REMOTE, runSyncTask } from '../sync-runner.js';

async function adHoc(
  rt: Runtime,
  values: Record<string, unknown>,
  options: Record<string, unknown>,
): Promise<void> {
  const job = validateSyncJobValues(`adhoc-${values['sync-direction']}`, {
    ...values,
    ...jobValuesFromOptions(options),
  });
  failForStatus(
    await runSyncTask(rt, job, { progress: options['progress'] !== false }),
    `sync ${job.direction}`,
  );
}

/** The two ad-hoc jobs: pull names the remote side first, push the local store. */
const AD_HOC = [
  {
    direction: 'pull',
    usage: 'pull <remote> <remote-store> <store>',
    what: "pull groups from a remote's datastore into a local one",
    args: (a: string[]) => ({ remote: a[0], remoteStore: a[1], store: a[2] }),
  },
  {
    direction: 'push',
    usage: 'push <store> <remote> <remote-store>',
    what: "push groups of a local datastore to a remote's datastore",
    args: (a: string[]) => ({ store: a[0], remote: a[1], remoteStore: a[2] }),
  },
] as const;

export function registerSync(program: Command, act: ActionFactory): void {
  for (const spec of AD_HOC) {
    addJobOptions(
      program
        .command(spec.usage)
        .description(`${spec.what} (remote "${LOCAL_REMOTE}": another local datastore)`)
        .option('--no-progress', 'no progress display'),
    ).action(
      act<Record<string, unknown>>(async (rt, args, opts) => {
        const { remote, remoteStore, store } = spec.args(args);
        await adHoc(
          rt,
          {
            ...(remote === LOCAL_REMOTE ? {} : { remote }),
            'remote-store': remoteStore,
            store,
            'sync-direction': spec.direction,
          },
          opts,
        );
      }),
    );
  }
}
