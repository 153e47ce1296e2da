/**
 * cli — the composition root: argv, environment, signals, exit statuses, one file per command in `commands/`.
 * The only module that reads process.env/argv, installs signal handlers or decides an exit status.
 *
 * Must not: hold domain logic a library caller would need (that belongs in the layers below).
 */

export { EXIT, exitCodeFor } from './exit-codes.js';
export { buildProgram, main } from './main.js';
export { formatTable } from './output.js';
