import { once } from 'node:events';
import type { Command } from 'commander';
import {
  datastoreTaskSubject,
  lookupMaintenanceJob,
  lookupSyncJob,
  parseHostPort,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import type { JobRunner } from '../../server/index.js';
import type { ActionFactory } from '../action.js';
import { parseDurationOption } from '../parse-options.js';
import { configuredJob, gcJob, JobLauncher, Scheduler } from '../scheduler.js';
import { JOB_TASK_TYPES } from '../task.js';
import { verifyArgs } from './verify.js';

const DEFAULT_LISTEN = '127.0.0.1:8007';

export function registerServe(program: Command, act: ActionFactory): void {
  program
    .command('serve')
    .description(
      'serve the datastores over the HTTPS API; prints {"url","fingerprint"} as one JSON line when ready',
    )
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', DEFAULT_LISTEN)
    .option('--insecure-http', 'serve plain HTTP (loopback addresses only: tests and benchmarks)')
    .option('--session-timeout <duration>', 'close reader/writer sessions idle this long', '5m')
    .option(
      '--no-scheduler',
      'run nothing on a schedule (sync, prune and verify jobs, gc-schedule, task-log cleanup): cron or timers do',
    )
    .action(
      act<{ listen: string; insecureHttp?: boolean; sessionTimeout: string; scheduler: boolean }>(
        async (rt, _args, opts) => {
          const idleMs = parseDurationOption('--session-timeout', opts.sessionTimeout);
          if (idleMs === 0)
            throw new FerryError('FERRY_ERR_USAGE', '--session-timeout must be longer than 0');
          // Each job run (scheduled, or asked for through the API) is its own `ferry` process, started as this one was.
          const launcher = new JobLauncher({
            home: rt.home,
            log: rt.log,
            cli: { command: process.execPath, args: [...process.execArgv, process.argv[1] as string] },
          });
          const jobs: JobRunner = {
            job: async (kind, id) => {
              // Not found is answered here, before any process starts.
              const job =
                kind === 'sync'
                  ? await lookupSyncJob(rt.home, id)
                  : await lookupMaintenanceJob(rt.home, kind, id);
              const task = { type: JOB_TASK_TYPES[kind], subject: job.id };
              return launcher.runNow(configuredJob(kind, job.id), task, rt.clock.now());
            },
            gc: (store) =>
              launcher.runNow(
                gcJob(store),
                { type: 'gc', subject: datastoreTaskSubject(store) },
                rt.clock.now(),
              ),
            verify: (store, run) =>
              launcher.runNow(
                {
                  kind: 'verify',
                  id: store,
                  args: verifyArgs(store, run),
                  label: `verification of datastore ${store}`,
                },
                { type: 'verify', subject: datastoreTaskSubject(store, run.ns) },
                rt.clock.now(),
              ),
          };
          // Loaded here, not at the top: other commands do not pay for fastify and the server's code.
          const { startServer } = await import('../../server/index.js');
          const server = await startServer({
            home: rt.home,
            listen: parseHostPort(opts.listen, 8007),
            insecureHttp: opts.insecureHttp === true,
            log: rt.log,
            clock: rt.clock,
            limits: { idleMs },
            jobs,
          });
          // One JSON line whatever the output format: scripts and the benchmark parse it.
          const ready = { url: server.url, fingerprint: server.fingerprint };
          rt.print(ready, () => JSON.stringify(ready));
          const scheduler = opts.scheduler
            ? new Scheduler({ home: rt.home, clock: rt.clock, log: rt.log, launcher }).run(rt.signal)
            : Promise.resolve();
          if (!rt.signal.aborted) await once(rt.signal, 'abort');
          rt.log.info('stopping: draining in-flight requests, stopping running jobs');
          await Promise.all([server.close(), scheduler]);
          await launcher.stopAll();
        },
      ),
    );
}
