import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import {
  compareGroups,
  formatBackupTime,
  formatSnapshot,
  mapNamespace,
  namespaceDir,
  parseArchiveName,
  parseAuthId,
  parseBackupTime,
  parseByteSize,
  parseDigest,
  parseGroup,
  parseNamespace,
  parseSnapshot,
  parseStoreName,
} from '../../src/model/index.js';

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE') && pattern.test(err.message),
  );
}

test('backup times parse and format as YYYY-MM-DDTHH:MM:SSZ and reject impossible dates', () => {
  assert.equal(parseBackupTime('2026-01-01T00:00:00Z'), 1767225600);
  assert.equal(formatBackupTime(1767225600), '2026-01-01T00:00:00Z');
  rejects(() => parseBackupTime('2026-02-30T00:00:00Z'), /not a real UTC time/);
  rejects(() => parseBackupTime('2026-01-01T00:00:00+01:00'), /expected YYYY/);
  rejects(() => parseBackupTime('2026-01-01 00:00:00Z'), /expected YYYY/);
  rejects(() => parseBackupTime(''), /expected YYYY/);
});

test('groups and snapshots parse type/id[/time] and reject traversal, empty and overlong ids', () => {
  assert.deepEqual(parseGroup('vm/100'), { type: 'vm', id: '100' });
  assert.equal(
    formatSnapshot(parseSnapshot('ct/web.1/2026-01-01T00:00:00Z')),
    'ct/web.1/2026-01-01T00:00:00Z',
  );
  rejects(() => parseGroup('vm/..'), /group id/);
  rejects(() => parseGroup('vm/a/b'), /group id/);
  rejects(() => parseGroup('vm/'), /empty/);
  rejects(() => parseGroup('disk/1'), /backup type/);
  rejects(() => parseGroup(`vm/${'x'.repeat(200)}`), /longer than/);
});

test('groups sort as PBS sorts them: ct < host < vm, numeric ids numerically and before names', () => {
  const sorted = ['vm/10', 'vm/9', 'ct/b', 'host/a', 'vm/abc', 'ct/100']
    .map(parseGroup)
    .sort(compareGroups)
    .map((g) => `${g.type}/${g.id}`);
  assert.deepEqual(sorted, ['ct/100', 'ct/b', 'host/a', 'vm/9', 'vm/10', 'vm/abc']);
});

test('namespaces are at most 7 levels of safe ids and map onto ns/a/ns/b directories', () => {
  assert.equal(namespaceDir(parseNamespace('a/b')), 'ns/a/ns/b');
  assert.equal(namespaceDir(parseNamespace('')), '');
  rejects(() => parseNamespace('a/b/c/d/e/f/g/h'), /deeper than 7/);
  rejects(() => parseNamespace('a/../b'), /namespace component/);
  rejects(() => parseNamespace('/a'), /empty/);
  assert.equal(
    mapNamespace(parseNamespace('src/x/y'), parseNamespace('src'), parseNamespace('dst')),
    'dst/x/y',
  );
  assert.equal(mapNamespace(parseNamespace('x'), parseNamespace(''), parseNamespace('')), 'x');
});

test('archive names need a known extension and no path characters', () => {
  assert.equal(parseArchiveName('drive-scsi0.img.fidx'), 'drive-scsi0.img.fidx');
  rejects(() => parseArchiveName('../x.blob'), /archive name/);
  rejects(() => parseArchiveName('a/b.blob'), /archive name/);
  rejects(() => parseArchiveName('x.txt'), /expected NAME/);
});

test('digests, store names, auth ids and byte sizes are validated', () => {
  rejects(() => parseDigest('ABC'), /64 lowercase hex/);
  assert.equal(parseStoreName('store1'), 'store1');
  rejects(() => parseStoreName('ab'), /shorter than 3/);
  assert.equal(parseAuthId('root@pam!sync'), 'root@pam!sync');
  rejects(() => parseAuthId('root'), /user@realm/);
  assert.equal(parseByteSize('20MiB'), 20 * 1024 * 1024);
  assert.equal(parseByteSize('1.5 KB'), 1500);
  rejects(() => parseByteSize('lots'), /expected a number/);
});
