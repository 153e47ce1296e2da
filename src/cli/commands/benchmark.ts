import type { Command } from 'commander';
import { lookupRemote } from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { FerryClient, remoteConnection } from '../../remote/index.js';
import type { ActionFactory } from '../action.js';
import { benchmarkCpu, benchmarkLink, type LinkResult } from '../benchmark.js';
import { parseIntOption } from '../parse-options.js';

interface BenchmarkOptions {
  remote?: string;
  connections?: string;
  seconds?: string;
}

export function registerBenchmark(program: Command, act: ActionFactory): void {
  program
    .command('benchmark')
    .description(
      "this host's chunk CPU rates (SHA-256, encode, decode, verify: one thread) and, with --remote, the link to a server",
    )
    .option('--remote <name>', 'also measure round trip, download and upload to this remote')
    .option(
      '--connections <n>',
      'connections for the second round of the link test (default 4; the first uses one)',
    )
    .option('--seconds <s>', 'time per measurement (default 1 for CPU, 3 for the link)')
    .action(
      act<BenchmarkOptions>(async (rt, _args, opts) => {
        const seconds = opts.seconds === undefined ? undefined : parseSeconds(opts.seconds);
        const connections =
          opts.connections === undefined ? 4 : parseIntOption('--connections', opts.connections, 2, 32);
        // The remote is looked up first: a misspelt name fails before a second of CPU tests.
        const entry = opts.remote === undefined ? undefined : await lookupRemote(rt.home, opts.remote);
        const cpu = benchmarkCpu(seconds ?? 1);
        let link: (LinkResult & { remote: string; url: string }) | undefined;
        if (entry !== undefined) {
          const clients = [1, connections].map((n) => ({
            connections: n,
            client: new FerryClient({ ...remoteConnection(entry), log: rt.log, connections: n }),
          }));
          for (const { client } of clients) rt.onClose(() => client.close());
          const result = await benchmarkLink(clients, seconds ?? 3, rt.signal);
          link = { remote: entry.name, url: clients[0]?.client.url ?? '', ...result };
        }
        rt.print({ cpu, ...(link ? { link } : {}) }, () => {
          const rows: [string, string][] = [
            ['SHA-256', mibs(cpu.sha256)],
            ['chunk encode (zstd level 1, CRC-32)', mibs(cpu.encode)],
            ['chunk decode (CRC-32, zstd)', mibs(cpu.decode)],
            ['chunk verify (CRC-32, zstd, SHA-256)', mibs(cpu.verify)],
          ];
          if (link !== undefined) {
            rows.push([`round trip to ${link.remote} (${link.url})`, `${link.rttMs.toFixed(1)} ms`]);
            for (const r of link.rates) {
              const over = `${r.connections} connection${r.connections === 1 ? '' : 's'}`;
              rows.push([`download, ${over}`, mibs(r.download)], [`upload, ${over}`, mibs(r.upload)]);
            }
          }
          const width = Math.max(...rows.map(([name]) => name.length));
          return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
        });
      }),
    );
}

function mibs(rate: number): string {
  return `${rate.toFixed(1)} MiB/s`;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds < 0.1 || seconds > 600) {
    throw new FerryError(
      'FERRY_ERR_USAGE',
      `--seconds must be a number from 0.1 to 600, not ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}
