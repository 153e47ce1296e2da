import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  type DatastoreEntry,
  formatMaintenanceMode,
  maintenanceOf,
  parseMaintenanceMode,
  readDatastoreConfig,
  removeDatastoreEntry,
  updateDatastoreEntry,
  withConfigLocks,
  writeDatastoreConfig,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { formatBytes, nowSeconds, parseCalendarEvent, parseStoreName } from '../../model/index.js';
import { type DatastoreStatusData, statusToWire } from '../../protocol/index.js';
import { Datastore, datastoreStatus, reindexDatastore } from '../../store/index.js';
import type { ActionFactory } from '../action.js';
import { jobScheduleStatus, runCells } from '../job-status.js';
import { parseOption } from '../parse-options.js';

/** A gc-schedule from the command line, checked as the configuration file's reader checks it. */
function gcSchedule(text: string): string {
  return parseOption('--gc-schedule', text, (t) => parseCalendarEvent(t).text);
}

/** The list's maintenance column: `read-only: why`, or `-`. */
function maintenanceCell(entry: DatastoreEntry): string {
  const mode = maintenanceOf(entry);
  if (mode === undefined) return '-';
  return mode.message === undefined ? mode.type : `${mode.type}: ${mode.message}`;
}

/** `ferry datastore status` as text: one line each for the disk, the contents and the chunk store. */
function formatStatus(name: string, s: DatastoreStatusData): string {
  const types = Object.entries(s.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, c]) => `${type} ${c.groups} group(s) / ${c.snapshots} snapshot(s)`);
  const dedup = s['dedup-factor'] === undefined ? '-' : s['dedup-factor'].toFixed(2);
  return [
    `datastore ${name}`,
    `  file system: ${formatBytes(s.used)} used of ${formatBytes(s.total)}, ${formatBytes(s.avail)} available`,
    `  contents:    ${s.namespaces} namespace(s); ${types.length === 0 ? 'no snapshots' : types.join(', ')}`,
    `  chunks:      ${s.chunks} (${formatBytes(s['chunk-bytes'])} on disk, ${formatBytes(s['plain-chunk-bytes'])} before compression)`,
    `  snapshots hold ${formatBytes(s['logical-bytes'])}: deduplication factor ${dedup}`,
  ].join('\n');
}

const DELETABLE = ['gc-schedule', 'comment', 'maintenance-mode'] as const;
type Deletable = (typeof DELETABLE)[number];

export function registerDatastore(program: Command, act: ActionFactory): void {
  const cmd = program
    .command('datastore')
    .description('create, list, update, remove and reindex datastores; their status');

  cmd
    .command('create <name> <path>')
    .description('create a datastore in an empty or new directory and register it')
    .option('--comment <text>', 'a comment')
    .option('--pbs-layout', 'pre-create all 65536 chunk directories, as PBS expects')
    .option(
      '--gc-schedule <event>',
      'when `ferry serve` runs garbage collection (calendar event, e.g. daily)',
    )
    .action(
      act<{ comment?: string; pbsLayout?: boolean; gcSchedule?: string }>(async (rt, [name, path], opts) => {
        const schedule = opts.gcSchedule === undefined ? undefined : gcSchedule(opts.gcSchedule);
        const storeName = parseStoreName(name);
        const dir = resolve(path as string);
        await withConfigLocks(rt.home, ['datastore'], async () => {
          const entries = await readDatastoreConfig(rt.home);
          if (entries.some((e) => e.name === storeName)) {
            throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `datastore ${storeName} exists already`);
          }
          const ds = await Datastore.create(dir, {
            clock: rt.clock,
            precreateChunkDirs: opts.pbsLayout === true,
          });
          await ds.close();
          await writeDatastoreConfig(rt.home, [
            ...entries,
            {
              name: storeName,
              path: dir,
              ...(opts.comment ? { comment: opts.comment } : {}),
              ...(schedule !== undefined ? { 'gc-schedule': schedule } : {}),
            },
          ]);
        });
        rt.print({ name: storeName, path: dir }, () => `created datastore ${storeName} in ${dir}`);
      }),
    );

  cmd
    .command('list')
    .description('list configured datastores')
    .action(
      act(async (rt) => {
        const entries = await readDatastoreConfig(rt.home);
        const now = nowSeconds(rt.clock);
        const listed = await Promise.all(
          entries.map(async (e) => ({
            ...e,
            ...(await jobScheduleStatus(rt.home, 'gc', e.name, e['gc-schedule'], now)),
          })),
        );
        rt.printList(
          listed.map((e) => ({
            name: e.name,
            path: e.path,
            'gc-schedule': e['gc-schedule'] ?? '-',
            'last gc': runCells(e).last,
            'next gc': runCells(e).next,
            maintenance: maintenanceCell(e),
            comment: e.comment ?? '',
          })),
          ['name', 'path', 'gc-schedule', 'last gc', 'next gc', 'maintenance', 'comment'],
          listed,
        );
      }),
    );

  cmd
    .command('update <name>')
    .description("change a datastore's settings")
    .option(
      '--gc-schedule <event>',
      'when `ferry serve` runs garbage collection (calendar event, e.g. daily)',
    )
    .option('--comment <text>', 'a comment')
    .option(
      '--maintenance-mode <mode>',
      'read-only or offline, with a reason: type=read-only,message="moving to new disk" (--delete maintenance-mode ends it)',
    )
    .option(
      '--delete <key>',
      `remove a setting: ${DELETABLE.join(', ')} (repeatable)`,
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(
      act<{ gcSchedule?: string; comment?: string; maintenanceMode?: string; delete?: string[] }>(
        async (rt, [name], opts) => {
          const storeName = parseStoreName(name);
          const remove = opts.delete ?? [];
          for (const key of remove) {
            if (!(DELETABLE as readonly string[]).includes(key))
              throw new FerryError(
                'FERRY_ERR_USAGE',
                `--delete: ${JSON.stringify(key)} is not one of ${DELETABLE.join(', ')}`,
              );
          }
          const schedule = opts.gcSchedule === undefined ? undefined : gcSchedule(opts.gcSchedule);
          const mode =
            opts.maintenanceMode === undefined
              ? undefined
              : parseOption('--maintenance-mode', opts.maintenanceMode, parseMaintenanceMode);
          const updated = await updateDatastoreEntry(rt.home, storeName, (next) => {
            for (const key of remove) delete next[key as Deletable];
            if (schedule !== undefined) next['gc-schedule'] = schedule;
            if (opts.comment !== undefined) next.comment = opts.comment;
            if (mode !== undefined) next['maintenance-mode'] = formatMaintenanceMode(mode);
          });
          rt.print(updated, () => `updated datastore ${storeName}`);
        },
      ),
    );

  cmd
    .command('remove <name>')
    .description(
      'unregister a datastore (its data stays unless --destroy-data; refused while a sync job uses it)',
    )
    .option('--destroy-data', 'also delete the datastore directory')
    .action(
      act<{ destroyData?: boolean }>(async (rt, [name], opts) => {
        const storeName = parseStoreName(name);
        const entry = await removeDatastoreEntry(rt.home, storeName);
        if (opts.destroyData) await rm(entry.path, { recursive: true, force: true });
        rt.print(
          { name: storeName, destroyed: opts.destroyData === true },
          () => `removed datastore ${storeName}`,
        );
      }),
    );

  cmd
    .command('status <name>')
    .description(
      'what a datastore holds (namespaces, groups, snapshots by type) and costs on disk: file system, chunks, deduplication',
    )
    .option('--remote <name>', "the status of this remote's datastore <name>, through its API")
    .action(
      act<{ remote?: string }>(async (rt, [name], opts) => {
        let status: DatastoreStatusData;
        if (opts.remote !== undefined) {
          const client = await rt.openRemote(opts.remote, { connections: 1 });
          status = await client.datastoreStatus(name as string);
        } else {
          status = statusToWire(await datastoreStatus(await rt.openDatastore(name as string, 'read')));
        }
        rt.print({ store: name, ...status }, () => formatStatus(name as string, status));
      }),
    );

  cmd
    .command('reindex <name>')
    .description('rebuild the lmdb chunk index from the chunk files')
    .action(
      act(async (rt, [name]) => {
        const ds = await rt.openDatastore(name as string, 'write', 'reindex');
        const report = await reindexDatastore(ds, { log: rt.log, signal: rt.signal });
        rt.print(
          report,
          () =>
            `reindexed ${report.chunks} chunks (${report.bytes} bytes), skipped ${report.skipped.length} files`,
        );
      }),
    );
}
