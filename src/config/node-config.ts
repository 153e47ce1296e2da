import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';

/**
 * The node's own settings, `$FERRY_HOME/node.cfg`, in the format of PBS's `/etc/proxmox-backup/node.cfg`: one
 * `key: value` per line (not a section config), `#` comment lines and blank lines ignored. Keys as in PBS's
 * NodeConfig, of which Ferry knows one so far:
 *
 *   task-log-max-days: 30     the tasks `ferry serve` removes each day are those that ended longer ago (unset: none)
 *
 * An unknown key, a repeated one or a bad value fails with `node.cfg:<line>: …` naming the key. Written whole and
 * atomically (comments are not kept, as PBS does not keep them); changes go through the file's lock.
 */

const NodeConfigSchema = Type.Object(
  {
    'task-log-max-days': Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type NodeConfig = Static<typeof NodeConfigSchema>;
export type NodeConfigKey = keyof NodeConfig;

export const NODE_CONFIG_KEYS = Object.keys(NodeConfigSchema.properties) as NodeConfigKey[];

export function nodeConfigPath(home: string): string {
  return join(home, 'node.cfg');
}

function isNodeConfigKey(key: string): key is NodeConfigKey {
  return (NODE_CONFIG_KEYS as string[]).includes(key);
}

/**
 * One value as node.cfg's reader reads it (also for values from the command line); throws an Error saying what is
 * wrong with it, for the caller to say where it came from.
 */
export function parseNodeConfigValue(key: NodeConfigKey, raw: string): number {
  const schema = NodeConfigSchema.properties[key];
  // Integers are the only kind of value so far; anything else is left as text, for the schema to refuse.
  const value: unknown = /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    throw new Error(`${first?.message ?? 'invalid'}, not ${JSON.stringify(raw)}`);
  }
  return value as number;
}

export function parseNodeConfig(text: string, file: string): NodeConfig {
  const config: NodeConfig = {};
  const fail = (line: number, detail: string) =>
    new FerryError('FERRY_ERR_CONFIG', `${file}:${line}: ${detail}`, { fields: { file, line } });
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = /^([A-Za-z][A-Za-z0-9_.-]*):\s*(.*?)\s*$/.exec(line);
    if (!m) throw fail(lineNo, `expected "<key>: <value>", got ${JSON.stringify(line.slice(0, 80))}`);
    const [, key, raw] = m as unknown as [string, string, string];
    if (!isNodeConfigKey(key))
      throw fail(lineNo, `unknown key ${JSON.stringify(key)} (known: ${NODE_CONFIG_KEYS.join(', ')})`);
    if (config[key] !== undefined) throw fail(lineNo, `key ${key} is repeated`);
    try {
      config[key] = parseNodeConfigValue(key, raw);
    } catch (err) {
      throw fail(lineNo, `key ${key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return config;
}

export function formatNodeConfig(config: NodeConfig): string {
  return NODE_CONFIG_KEYS.filter((key) => config[key] !== undefined)
    .map((key) => `${key}: ${config[key]}\n`)
    .join('');
}

/** Reads `$FERRY_HOME/node.cfg`; a missing file is an empty config (every setting unset). */
export async function readNodeConfig(home: string): Promise<NodeConfig> {
  const path = nodeConfigPath(home);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  return parseNodeConfig(text, path);
}

export async function writeNodeConfig(home: string, config: NodeConfig): Promise<void> {
  await writeFileAtomic(nodeConfigPath(home), Buffer.from(formatNodeConfig(config)));
}
