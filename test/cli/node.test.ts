/**
 * `ferry node show|update`: node.cfg's settings set, shown (text and JSON) and unset; a bad value or key is refused
 * with exit 2, naming the option, and leaves node.cfg as it was.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ferry, ferryJson } from '../helpers/cli.js';
import { tempDir } from '../helpers/world.js';

test('node update sets and unsets task-log-max-days; node show shows it as text and JSON', async (t) => {
  const home = join(await tempDir(t), 'home');
  const cfg = join(home, 'node.cfg');
  assert.deepEqual(await ferryJson(home, ['node', 'show']), {});
  const unset = await ferry(home, ['node', 'show']);
  assert.equal(unset.code, 0, unset.stderr);
  assert.match(unset.stdout, /^task-log-max-days: - \(unset: /);

  assert.deepEqual(await ferryJson(home, ['node', 'update', '--task-log-max-days', '30']), {
    'task-log-max-days': 30,
  });
  assert.equal(await readFile(cfg, 'utf8'), 'task-log-max-days: 30\n');
  assert.deepEqual(await ferryJson(home, ['node', 'show']), { 'task-log-max-days': 30 });
  const shown = await ferry(home, ['node', 'show']);
  assert.equal(shown.stdout, 'task-log-max-days: 30\n');

  assert.deepEqual(await ferryJson(home, ['node', 'update', '--delete', 'task-log-max-days']), {});
  assert.equal(await readFile(cfg, 'utf8'), '');
  assert.deepEqual(await ferryJson(home, ['node', 'show']), {});
});

test('node update refuses a bad value, an unknown key and a broken node.cfg, leaving the file unchanged', async (t) => {
  const home = join(await tempDir(t), 'home');
  const cfg = join(home, 'node.cfg');
  await ferryJson(home, ['node', 'update', '--task-log-max-days', '7']);
  const before = await readFile(cfg, 'utf8');
  const refusals: [string[], RegExp][] = [
    [['--task-log-max-days', '0'], /--task-log-max-days: .*greater or equal to 1, not "0"/],
    [['--task-log-max-days', '30d'], /--task-log-max-days: Expected integer, not "30d"/],
    [['--task-log-max-days', '-1'], /--task-log-max-days: .*greater or equal to 1/],
    [['--delete', 'http-proxy'], /--delete: "http-proxy" is not a node setting \(task-log-max-days\)/],
    [['--task-log-max-days', '9', '--delete', 'task-log-max-days'], /give one of them/],
  ];
  for (const [args, message] of refusals) {
    const run = await ferry(home, ['node', 'update', ...args]);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.equal(await readFile(cfg, 'utf8'), before, args.join(' '));
  }

  // A hand-edited file with a key Ferry does not know: show and update name it, and update writes nothing.
  const edited = '# by hand\ntask-log-max-days: 7\nemail-from: root@example.com\n';
  await writeFile(cfg, edited);
  for (const args of [['show'], ['update', '--task-log-max-days', '9']]) {
    const run = await ferry(home, ['node', ...args]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`${cfg}:3: unknown key "email-from"`));
  }
  assert.equal(await readFile(cfg, 'utf8'), edited);
});
