/**
 * node.cfg: PBS's plain `key: value` lines, read and written; a bad line names the file, its line and the key.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  formatNodeConfig,
  nodeConfigPath,
  parseNodeConfig,
  readNodeConfig,
  writeNodeConfig,
} from '../../src/config/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/world.js';

test('node.cfg parses with comments and blank lines, and formats back to the same key line', () => {
  const text = '# set by hand\n\ntask-log-max-days: 30\n   \n# end\n';
  const config = parseNodeConfig(text, 'node.cfg');
  assert.deepEqual(config, { 'task-log-max-days': 30 });
  assert.equal(formatNodeConfig(config), 'task-log-max-days: 30\n');
  assert.deepEqual(parseNodeConfig(formatNodeConfig(config), 'node.cfg'), config);
  assert.deepEqual(parseNodeConfig('', 'node.cfg'), {});
  assert.equal(formatNodeConfig({}), '');
});

test('a bad value, an unknown key, a repeated key or a malformed line fails naming file, line and key', () => {
  const cases: [string, RegExp][] = [
    [
      '# days\ntask-log-max-days: 0\n',
      /^\/etc\/node\.cfg:2: key task-log-max-days: .*greater or equal to 1.*"0"/,
    ],
    ['task-log-max-days: soon\n', /^\/etc\/node\.cfg:1: key task-log-max-days: Expected integer, not "soon"/],
    [
      'task-log-max-days: -3\n',
      /^\/etc\/node\.cfg:1: key task-log-max-days: .*greater or equal to 1, not "-3"/,
    ],
    ['task-log-max-days:\n', /^\/etc\/node\.cfg:1: key task-log-max-days: Expected integer, not ""/],
    [
      '\n\nhttp-proxy: http://proxy:3128\n',
      /^\/etc\/node\.cfg:3: unknown key "http-proxy" \(known: task-log-max-days\)/,
    ],
    [
      'task-log-max-days: 7\ntask-log-max-days: 8\n',
      /^\/etc\/node\.cfg:2: key task-log-max-days is repeated/,
    ],
    ['task-log-max-days 7\n', /^\/etc\/node\.cfg:1: expected "<key>: <value>"/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseNodeConfig(text, '/etc/node.cfg'),
      (err) => isFerryError(err) && err.code === 'FERRY_ERR_CONFIG' && message.test(err.message),
      JSON.stringify(text),
    );
  }
});

test('readNodeConfig: a missing file is every setting unset; writeNodeConfig writes what it reads back', async (t) => {
  const home = await tempDir(t);
  assert.deepEqual(await readNodeConfig(home), {});
  await writeNodeConfig(home, { 'task-log-max-days': 14 });
  assert.equal(await readFile(nodeConfigPath(home), 'utf8'), 'task-log-max-days: 14\n');
  assert.deepEqual(await readNodeConfig(home), { 'task-log-max-days': 14 });
  await writeFile(join(home, 'node.cfg'), 'task-log-max-days: 14x\n');
  await assert.rejects(
    readNodeConfig(home),
    new RegExp(`^FerryError: ${join(home, 'node.cfg')}:1: key task-log-max-days`),
  );
});
