/**
 * Where benchmark results go and how they look: one JSON file per run under bench/results/ (not committed),
 * stamped with the machine, Node version and commit so two files can be compared honestly, plus plain-text
 * tables for the terminal.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT, RESULTS_DIR } from './paths.js';

export { RESULTS_DIR };

export interface MachineInfo {
  readonly cpus: { readonly model: string; readonly count: number };
  readonly memoryBytes: number;
  readonly platform: string;
  readonly release: string;
}

export interface ResultsFile<T = unknown> {
  readonly scenario: string;
  readonly startedAt: string;
  readonly machine: MachineInfo;
  readonly node: string;
  readonly commit: string;
  readonly data: T;
}

export interface WriteResultsOptions {
  /** Folder to write into; bench/results/ by default. */
  readonly dir?: string;
  /** When the run started; now by default. Also names the file. */
  readonly startedAt?: Date;
  /** An SVG chart to write next to the JSON, same basename. */
  readonly svg?: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: { model: list[0]?.model.trim() ?? 'unknown', count: list.length },
    memoryBytes: totalmem(),
    platform: platform(),
    release: release(),
  };
}

/** HEAD of the repository the bench folder lives in, or 'unknown' outside git. */
export async function currentCommit(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT });
    const commit = stdout.trim();
    return /^[0-9a-f]{40,64}$/.test(commit) ? commit : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `2026-01-02T03:04:05.678Z` → `2026-01-02T03-04-05Z`: sortable and legal in every file system. */
function fileStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
}

/**
 * Writes `<dir>/<name>-<timestamp>.json` (and `.svg` when given) and returns the JSON path. Two runs in the same
 * second get `-2`, `-3`… rather than overwriting each other.
 */
export async function writeResults(
  name: string,
  data: unknown,
  options: WriteResultsOptions = {},
): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new RangeError(`scenario name ${JSON.stringify(name)} is not kebab-case`);
  const dir = resolve(options.dir ?? RESULTS_DIR);
  const startedAt = options.startedAt ?? new Date();
  const file: ResultsFile = {
    scenario: name,
    startedAt: startedAt.toISOString(),
    machine: machineInfo(),
    node: process.version,
    commit: await currentCommit(),
    data,
  };
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(file, null, 2)}\n`;
  for (let attempt = 1; ; attempt++) {
    const base = join(dir, `${name}-${fileStamp(startedAt)}${attempt === 1 ? '' : `-${attempt}`}`);
    try {
      await writeFile(`${base}.json`, text, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    if (options.svg !== undefined) await writeFile(`${base}.svg`, options.svg);
    return `${base}.json`;
  }
}

/** One table renderer for the CLI and the benchmarks. */
export { formatTable } from '../src/cli/index.js';
