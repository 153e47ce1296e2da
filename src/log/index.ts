/**
 * log — pino loggers, the per-group log aggregator, sync statistics and progress counters.
 *
 * Invariants: every long-running operation takes its logger explicitly (no global logger); errors are logged once,
 * where handled, as `log.error({ err }, 'what failed')`, never interpolated into the message.
 *
 * Must not: decide what is logged about datastores or sync (callers do), or write to stdout (that is the CLI's).
 */

export {
  LogAggregator,
  type LogAggregatorOptions,
  type LogLevel,
  type LogLine,
  type LogMessage,
} from './log-aggregator.js';
export {
  createLogger,
  type Logger,
  type LoggerSetup,
  type LogMethods,
  silentLogger,
} from './logger.js';
export {
  PROGRESS_FIELDS,
  ProgressCounters,
  type ProgressField,
  type ProgressRow,
} from './progress-counters.js';
