import { Command, CommanderError } from 'commander';
import { formatError, isFerryError } from '../errors/index.js';
import { FERRY_VERSION } from '../io/index.js';
import { actionFactory, type CliEnvironment } from './action.js';
import { registerAcl } from './commands/acl.js';
import { registerBackup } from './commands/backup.js';
import { registerBenchmark } from './commands/benchmark.js';
import { registerCert } from './commands/cert.js';
import { registerDatastore } from './commands/datastore.js';
import { registerGc } from './commands/gc.js';
import { registerGroups } from './commands/groups.js';
import { registerMaintenanceJobs } from './commands/maintenance-job.js';
import { registerNamespace } from './commands/namespace.js';
import { registerNode } from './commands/node.js';
import { registerPrune } from './commands/prune.js';
import { registerRemote } from './commands/remote.js';
import { registerRestore } from './commands/restore.js';
import { registerServe } from './commands/serve.js';
import { registerSnapshots } from './commands/snapshots.js';
import { registerSync } from './commands/sync.js';
import { registerSyncJob } from './commands/sync-job.js';
import { registerTask } from './commands/task.js';
import { registerToken } from './commands/token.js';
import { registerVerify } from './commands/verify.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

export function buildProgram(environment: CliEnvironment, stderr: (text: string) => void): Command {
  const program = new Command('ferry')
    .description('Ferry: deduplicated backup datastores and fast, safe sync between them')
    .version(FERRY_VERSION, '-V, --version', 'print the version and exit')
    .option('--home <dir>', 'configuration directory (default: $FERRY_HOME or ~/.config/ferry)')
    .option('--output-format <format>', 'text or json', 'text')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => environment.stdout(s.replace(/\n$/, '')),
      writeErr: (s) => stderr(s.replace(/\n$/, '')),
    })
    .showHelpAfterError();
  const act = actionFactory(environment);
  registerDatastore(program, act);
  registerNamespace(program, act);
  registerBackup(program, act);
  registerRestore(program, act);
  registerGroups(program, act);
  registerSnapshots(program, act);
  registerVerify(program, act);
  registerPrune(program, act);
  registerGc(program, act);
  registerSync(program, act);
  registerSyncJob(program, act);
  registerMaintenanceJobs(program, act, 'prune');
  registerMaintenanceJobs(program, act, 'verify');
  registerTask(program, act);
  registerServe(program, act);
  registerCert(program, act);
  registerBenchmark(program, act);
  registerToken(program, act);
  registerAcl(program, act);
  registerRemote(program, act);
  registerNode(program, act);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/**
 * The composition root: parses argv, wires signals to an AbortSignal, runs the command and maps any error to an
 * exit status in one place. Returns the exit status.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    process.stderr.write(`ferry: ${signal}: stopping (again to force)\n`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stderr = (text: string) => process.stderr.write(`${text}\n`);
  const program = buildProgram(
    {
      env,
      signal: controller.signal,
      stdout: (text) => process.stdout.write(`${text}\n`),
      cwd: process.cwd(),
    },
    stderr,
  );
  try {
    await program.parseAsync(argv, { from: 'node' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return exitCodeFor(err);
    const aborted = controller.signal.aborted && !(isFerryError(err) && err.code !== 'FERRY_ERR_ABORTED');
    stderr(`ferry: error: ${aborted ? interruptedMessage(err) : formatError(err)}`);
    return aborted ? EXIT.interrupted : exitCodeFor(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * What an interrupted command says: what it knows of where it stopped and what it left (a FERRY_ERR_ABORTED of its
 * own, e.g. "asked the server to stop task …"), else only that it was interrupted.
 */
function interruptedMessage(err: unknown): string {
  if (!isFerryError(err)) return 'interrupted';
  const detail = formatError(err);
  return detail.includes('interrupted') ? detail : `interrupted: ${detail}`;
}
