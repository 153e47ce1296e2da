/**
 * `npm run bench -- <scenario> [--quick] [scenario args…]`. Without a known scenario it lists them and exits 2.
 */
import { formatTable } from './results.js';
import { SCENARIOS } from './scenarios/index.js';

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const scenario = name === undefined ? undefined : SCENARIOS[name];
  if (name === undefined || scenario === undefined || !Object.hasOwn(SCENARIOS, name)) {
    if (name !== undefined) process.stderr.write(`unknown scenario ${JSON.stringify(name)}\n\n`);
    process.stderr.write('usage: npm run bench -- <scenario> [--quick]\n\n');
    const rows = Object.entries(SCENARIOS).map(([key, value]) => ({
      scenario: key,
      describe: value.describe,
    }));
    process.stderr.write(`${formatTable(rows)}\n`);
    return 2;
  }
  await scenario.run({ quick: rest.includes('--quick'), args: rest.filter((arg) => arg !== '--quick') });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
