import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import {
  encodeManifestBlob,
  encodeManifestJson,
  type Manifest,
  manifestVerifyState,
  parseManifestBlob,
  parseManifestJson,
  sameProtectedContent,
  withUnprotected,
} from '../../src/format/index.js';
import { parseArchiveName } from '../../src/model/index.js';

const MANIFEST: Manifest = {
  backupType: 'vm',
  backupId: '100',
  backupTime: 1767225600,
  files: [
    { filename: parseArchiveName('drive-scsi0.img.fidx'), cryptMode: 'none', size: 10, csum: 'a'.repeat(64) },
  ],
  unprotected: {},
  signature: null,
};

test('a manifest round-trips through its blob with PBS key names', () => {
  const parsed = parseManifestBlob(encodeManifestBlob(MANIFEST));
  assert.deepEqual(parsed, MANIFEST);
  const json = JSON.parse(encodeManifestJson(MANIFEST).toString());
  assert.deepEqual(Object.keys(json), [
    'backup-id',
    'backup-time',
    'backup-type',
    'files',
    'signature',
    'unprotected',
  ]);
  assert.deepEqual(Object.keys(json.files[0]), ['crypt-mode', 'csum', 'filename', 'size']);
});

test('the verify state lives in the unprotected part and does not change protected content', () => {
  const verified = withUnprotected(MANIFEST, { verify_state: { state: 'ok', upid: 'x' } });
  assert.equal(manifestVerifyState(verified), 'ok');
  assert.equal(manifestVerifyState(MANIFEST), undefined);
  assert.ok(sameProtectedContent(MANIFEST, verified));
  assert.ok(!sameProtectedContent(MANIFEST, { ...MANIFEST, backupTime: 1 }));
});

test('hostile manifests get typed errors naming the field', () => {
  const cases: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"files": 3}', /"files" is not a list/],
    [
      '{"backup-type":"vm","backup-id":"1","backup-time":0,"files":[{"filename":"../x.blob","size":1,"csum":"' +
        'a'.repeat(64) +
        '"}]}',
      /archive name/,
    ],
    [
      '{"backup-type":"vm","backup-id":"1","backup-time":0,"files":[{"filename":"x.blob","size":-1,"csum":"' +
        'a'.repeat(64) +
        '"}]}',
      /bad size/,
    ],
    ['{"backup-type":"vm","backup-id":"..","backup-time":0,"files":[]}', /backup id/],
    ['{"backup-type":"vm","backup-id":"1","backup-time":1.5,"files":[]}', /backup time/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => parseManifestJson(Buffer.from(text)),
      (e: unknown) => isFerryError(e) && pattern.test(e.message),
      text,
    );
  }
});
