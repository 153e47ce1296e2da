/**
 * The scenario registry: name on the command line → scenario. Adding one is a file
 * `bench/scenarios/<name>.bench.ts` and one line here.
 */
import type { Scenario } from '../scenario.js';
import { apiBatch } from './api-batch.bench.js';
import { ingest } from './ingest.bench.js';
import { memory } from './memory.bench.js';
import { migration } from './migration.bench.js';
import { syncIncremental } from './sync-incremental.bench.js';
import { syncLatency } from './sync-latency.bench.js';
import { syncNoop } from './sync-noop.bench.js';
import { wanSelftest } from './wan-selftest.bench.js';

export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  'api-batch': apiBatch,
  ingest,
  memory,
  migration,
  'sync-incremental': syncIncremental,
  'sync-latency': syncLatency,
  'sync-noop': syncNoop,
  'wan-selftest': wanSelftest,
};
