import { createRequire } from 'node:module';
import type { DestinationStream, Logger, LoggerOptions, pino as Pino } from 'pino';

export type { Logger };

let loaded: typeof Pino | undefined;

/**
 * pino, loaded when the first logger is made rather than with this module: a sync thread, which makes none
 * (LogMethods), never loads it.
 */
function pino(): typeof Pino {
  loaded ??= (createRequire(import.meta.url)('pino') as { pino: typeof Pino }).pino;
  return loaded;
}

export interface LoggerSetup {
  level?: string;
  /** Where lines go; default: standard error. */
  destination?: DestinationStream;
  /** Fixed fields on every line (task id, job id). */
  base?: Record<string, unknown>;
}

/** The one place loggers are made. pino renders an error's whole `cause` chain under `err`. */
export function createLogger(setup: LoggerSetup = {}): Logger {
  const make = pino();
  const options: LoggerOptions = {
    level: setup.level ?? 'info',
    base: setup.base ?? null,
    timestamp: make.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return make(options, setup.destination ?? make.destination({ dest: 2, sync: true }));
}

/**
 * The four level methods, and nothing else: what a layer that only reports (the HTTP client, a sync endpoint)
 * takes, so a worker thread can hand it a few lines of its own instead of loading pino (~30 ms of CPU per thread
 * start). A pino Logger is one.
 */
export type LogMethods = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** A logger that drops everything (tests, library callers without logging). */
export function silentLogger(): Logger {
  return pino()({ level: 'silent' });
}
