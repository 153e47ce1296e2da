import { CommanderError } from 'commander';
import { type ErrorKind, FerryError, isFerryError, kindOf } from '../errors/index.js';

/**
 * The one switch from errors to exit statuses (DESIGN §8, as restic does it):
 *   0 ok · 1 failed · 2 usage or config error · 3 sync incomplete · 10 not found · 11 locked ·
 *   12 authentication failed · 130 interrupted
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  incomplete: 3,
  notFound: 10,
  locked: 11,
  unauthorized: 12,
  interrupted: 130,
} as const;

const BY_KIND: Readonly<Record<ErrorKind, number>> = {
  usage: EXIT.usage,
  'not-found': EXIT.notFound,
  conflict: EXIT.failed,
  locked: EXIT.locked,
  corrupt: EXIT.failed,
  unauthorized: EXIT.unauthorized,
  forbidden: EXIT.unauthorized,
  'too-large': EXIT.usage,
  network: EXIT.failed,
  aborted: EXIT.interrupted,
  incomplete: EXIT.incomplete,
  internal: EXIT.failed,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (isFerryError(err)) return BY_KIND[kindOf(err.code)];
  if (err instanceof Error && err.name === 'AbortError') return EXIT.interrupted;
  return EXIT.failed;
}

/** Turns a sync's exit status into its error: interrupted (130) or incomplete (3); other statuses pass. */
export function failForStatus(status: number, what: string): void {
  if (status === EXIT.interrupted) throw new FerryError('FERRY_ERR_ABORTED', `${what} interrupted`);
  if (status === EXIT.incomplete)
    throw new FerryError('FERRY_ERR_SYNC_INCOMPLETE', `${what} incomplete: some groups failed`);
}
