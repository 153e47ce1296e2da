import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

export interface LoggerSetup {
  level?: string;
  /** Where lines go; default: standard error. */
  destination?: DestinationStream;
  /** Fixed fields on every line (task id, job id). */
  base?: Record<string, unknown>;
}

/** The one place loggers are made. pino renders an error's whole `cause` chain under `err`. */
export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    level: setup.level ?? 'info',
    base: setup.base ?? null,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return pino(options, setup.destination ?? pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (tests, library callers without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
