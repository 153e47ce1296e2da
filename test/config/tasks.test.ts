/**
 * Which datastore (and namespace) of this host a task works on, read from its id: what the server's task routes
 * decide access by.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datastoreOfTask, datastoreTaskSubject, taskIdSubject } from '../../src/config/index.js';
import { parseNamespace, parseStoreName } from '../../src/model/index.js';

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
