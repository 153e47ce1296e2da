import type { Command } from 'commander';
import { MAX_NAMESPACE_DEPTH, parseNamespace } from '../../model/index.js';
import type { ActionFactory } from '../action.js';
import { parseIntOption } from '../parse-options.js';

export function registerNamespace(program: Command, act: ActionFactory): void {
  const cmd = program.command('namespace').description('create, list and remove namespaces');

  cmd
    .command('create <store> <ns>')
    .description('create a namespace (its parent must exist)')
    .action(
      act(async (rt, [store, ns]) => {
        const ds = await rt.openDatastore(store as string, 'write', 'creating a namespace');
        const namespace = parseNamespace(ns);
        await ds.createNamespace(namespace);
        rt.print({ store, ns: namespace }, () => `created namespace ${namespace}`);
      }),
    );

  cmd
    .command('list <store>')
    .description('list namespaces')
    .option('--parent <ns>', 'start below this namespace', '')
    .option('--max-depth <n>', 'levels below the parent', String(MAX_NAMESPACE_DEPTH))
    .action(
      act<{ parent: string; maxDepth: string }>(async (rt, [store], opts) => {
        const ds = await rt.openDatastore(store as string, 'read');
        const list = await ds.listNamespaces(
          parseNamespace(opts.parent),
          parseIntOption('--max-depth', opts.maxDepth, 0, MAX_NAMESPACE_DEPTH),
        );
        rt.printList(
          list.map((ns) => ({ ns: ns === '' ? '<root>' : ns })),
          ['ns'],
          list.map((ns) => ({ ns })),
        );
      }),
    );

  cmd
    .command('remove <store> <ns>')
    .description('remove a namespace and those below it')
    .option('--delete-groups', 'also remove the groups it holds (protected snapshots are kept)')
    .action(
      act<{ deleteGroups?: boolean }>(async (rt, [store, ns], opts) => {
        const ds = await rt.openDatastore(store as string, 'write', 'removing a namespace');
        const result = await ds.removeNamespace(parseNamespace(ns), {
          deleteGroups: opts.deleteGroups === true,
        });
        rt.print(result, () =>
          result.protectedKept > 0
            ? `removed ${result.removedGroups} group(s); kept ${result.protectedKept} protected snapshot(s) and the namespaces holding them`
            : `removed namespace ${ns} (${result.removedGroups} group(s))`,
        );
      }),
    );
}
