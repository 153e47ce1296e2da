import type { Command } from 'commander';
import {
  NODE_CONFIG_KEYS,
  type NodeConfig,
  type NodeConfigKey,
  parseNodeConfigValue,
  readNodeConfig,
  withConfigLocks,
  writeNodeConfig,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import type { ActionFactory } from '../action.js';
import { parseOption } from '../parse-options.js';

/**
 * `ferry node show|update`: the node's settings in node.cfg, as PBS's `proxmox-backup-manager node show|update`.
 * Options are the keys (`--task-log-max-days 30`), checked by the file's own reading before anything is written.
 */

/** What an unset key means, for `node show`. */
const UNSET: Readonly<Record<NodeConfigKey, string>> = {
  'task-log-max-days': 'unset: task logs are kept until ferry task prune removes them',
};

function showLines(config: NodeConfig): string {
  return NODE_CONFIG_KEYS.map((key) =>
    config[key] === undefined ? `${key}: - (${UNSET[key]})` : `${key}: ${config[key]}`,
  ).join('\n');
}

export function registerNode(program: Command, act: ActionFactory): void {
  const cmd = program.command('node').description("the node's settings in node.cfg: show, update");

  cmd
    .command('show')
    .description("show the node's settings")
    .action(
      act(async (rt) => {
        const config = await readNodeConfig(rt.home);
        rt.print(config, () => showLines(config));
      }),
    );

  cmd
    .command('update')
    .description("change the node's settings")
    .option(
      '--task-log-max-days <days>',
      'ferry serve removes, daily, the tasks (record and log) that ended longer ago (at least 1)',
    )
    .option(
      '--delete <key>',
      `unset a setting: ${NODE_CONFIG_KEYS.join(', ')} (repeatable)`,
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(
      act<{ taskLogMaxDays?: string; delete?: string[] }>(async (rt, _args, opts) => {
        const remove = opts.delete ?? [];
        for (const key of remove) {
          if (!(NODE_CONFIG_KEYS as string[]).includes(key))
            throw new FerryError(
              'FERRY_ERR_USAGE',
              `--delete: ${JSON.stringify(key)} is not a node setting (${NODE_CONFIG_KEYS.join(', ')})`,
            );
        }
        const set: NodeConfig = {};
        if (opts.taskLogMaxDays !== undefined) {
          if (remove.includes('task-log-max-days'))
            throw new FerryError(
              'FERRY_ERR_USAGE',
              '--task-log-max-days and --delete task-log-max-days: give one of them',
            );
          set['task-log-max-days'] = parseOption('--task-log-max-days', opts.taskLogMaxDays, (v) =>
            parseNodeConfigValue('task-log-max-days', v),
          );
        }
        const updated = await withConfigLocks(rt.home, ['node'], async () => {
          const next: NodeConfig = { ...(await readNodeConfig(rt.home)), ...set };
          for (const key of remove) delete next[key as NodeConfigKey];
          await writeNodeConfig(rt.home, next);
          return next;
        });
        rt.print(updated, () => `updated node.cfg\n${showLines(updated)}`);
      }),
    );
}
