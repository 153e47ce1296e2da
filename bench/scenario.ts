/**
 * The contract every benchmark scenario fulfils. A scenario is one file, `bench/scenarios/<name>.bench.ts`,
 * exporting a `Scenario`, plus one line in `bench/scenarios/index.ts`. It builds its own world (servers,
 * simulator, temp dirs), prints a table, writes its results with `writeResults`, and tears everything down.
 */

export interface ScenarioRunOptions {
  /** A short run for smoke checks: fewer sizes, fewer repetitions, same shape of output. */
  readonly quick: boolean;
  /** Whatever followed the scenario name on the command line, `--quick` removed. */
  readonly args: readonly string[];
}

export interface Scenario {
  /** One line shown by `npm run bench` without arguments. */
  readonly describe: string;
  run(options: ScenarioRunOptions): Promise<void>;
}
