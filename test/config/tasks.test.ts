/**
 * Which datastore (and namespace) of this host a task works on, read from its id: what the server's task routes
 * decide access by; and how they read a task's log.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  datastoreOfTask,
  datastoreTaskSubject,
  readTaskLogLines,
  taskIdSubject,
  tasksDir,
} from '../../src/config/index.js';
import { parseNamespace, parseStoreName } from '../../src/model/index.js';
import { tempDir } from '../helpers/world.js';

const id = (type: string, subject: string) =>
  `UPID:ferry:1f00:6a000000:${type}:${taskIdSubject(subject)}:0000aa`;
const store = parseStoreName('offsite');

test('gc, prune and verify tasks name their datastore, a verification its namespace too; other tasks name none', () => {
  assert.equal(datastoreTaskSubject(store), 'offsite');
  assert.equal(datastoreTaskSubject(store, parseNamespace('a/b_c')), 'offsite:a/b_c');
  assert.deepEqual(datastoreOfTask(id('gc', datastoreTaskSubject(store))), { store, ns: '' });
  assert.deepEqual(datastoreOfTask(id('prune', 'offsite')), { store, ns: '' });
  assert.deepEqual(datastoreOfTask(id('verify', 'offsite')), { store, ns: '' });
  // `/` and `_` stay apart in the id: a_b and a/b are different namespaces.
  assert.equal(taskIdSubject('offsite:a/b_c'), 'offsite:a:b_c');
  assert.deepEqual(datastoreOfTask(id('verify', datastoreTaskSubject(store, parseNamespace('a/b_c')))), {
    store,
    ns: 'a/b_c',
  });
  for (const [type, subject] of [
    ['syncjob', 'nightly'],
    ['verificationjob', 'check'],
    ['prunejob', 'keep'],
    ['prune', 'site-b:offsite'], // a prune of a remote's datastore, recorded here
    ['gc', 'offsite:a'],
    ['verify', 'offsite::a'],
    ['verify', 'x'], // not a store name
    ['backup', 'offsite'],
  ] as const) {
    assert.equal(datastoreOfTask(id(type, subject)), undefined, `${type} ${subject}`);
  }
  assert.equal(
    datastoreOfTask('UPID:pbs1:00001234:00005678:00000001:6745A2C0:garbage_collection:offsite:root@pam:'),
    undefined,
  );
  assert.equal(datastoreOfTask('../../etc/passwd'), undefined);
});

test('a namespace too long for a task id (a file name) leaves the subject the whole datastore', () => {
  // The longest kept: 'offsite:' and 192 characters of namespace, in an id with the largest pid Linux gives.
  const longest = parseNamespace(`${'a'.repeat(63)}/${'b'.repeat(64)}/${'c'.repeat(63)}`);
  assert.equal(datastoreTaskSubject(store, longest).length, 200);
  const upid = `UPID:ferry:3fffff:ffffffff:verify:${taskIdSubject(datastoreTaskSubject(store, longest))}:ffffff`;
  assert.ok(Buffer.byteLength(`${upid}.json`) <= 255, `${upid.length}`);
  assert.equal(datastoreTaskSubject(store, parseNamespace(`${longest}x`)), 'offsite');
});

test("a task's log is answered from any line on, in pieces of whole lines, with a line still being written held back until the task ends", async (t) => {
  const home = await tempDir(t);
  const upid = id('verify', 'offsite');
  await mkdir(tasksDir(home), { recursive: true });
  assert.deepEqual(await readTaskLogLines(home, upid, 0, { maxBytes: 1000, ended: false }), {
    lines: [],
    more: false,
  });
  // Lines of every length around the 64 KiB read piece, one longer than a piece, with characters of 2 to 4 bytes.
  const lines = Array.from(
    { length: 400 },
    (_, i) => `${i} ${'é€𝄞x'.repeat(i === 123 ? 30_000 : (i * 37) % 700)}`,
  );
  const text = lines.map((l) => `${l}\n`).join('');
  assert.ok(Buffer.byteLength(text) > 4 * 64 * 1024, 'the log spans several read pieces');
  await writeFile(join(tasksDir(home), `${upid}.log`), `${text}half a li`);

  for (const maxBytes of [1, 5000, 100_000, 10 * 1024 * 1024]) {
    const read: string[] = [];
    let answers = 0;
    for (let more = true; more; answers++) {
      const answer = await readTaskLogLines(home, upid, read.length, { maxBytes, ended: false });
      assert.ok(answer.lines.length > 0 || !answer.more, 'an answer that says more holds a line');
      const bytes = answer.lines.reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0);
      assert.ok(
        answer.lines.length === 1 || bytes <= maxBytes,
        `${bytes} bytes answered, at most ${maxBytes}`,
      );
      read.push(...answer.lines);
      more = answer.more;
    }
    assert.deepEqual(read, lines, `every whole line once, in order (maxBytes ${maxBytes})`);
    if (maxBytes === 1) assert.equal(answers, lines.length, 'one line per answer');
  }
  assert.deepEqual(await readTaskLogLines(home, upid, 398, { maxBytes: 1e6, ended: false }), {
    lines: lines.slice(398),
    more: false,
  });
  // Once the task has ended, its log is complete: the last line, without its newline, is answered too.
  assert.deepEqual(await readTaskLogLines(home, upid, 399, { maxBytes: 1e6, ended: true }), {
    lines: [lines[399], 'half a li'],
    more: false,
  });
  assert.deepEqual(await readTaskLogLines(home, upid, 401, { maxBytes: 1e6, ended: true }), {
    lines: [],
    more: false,
  });
});
