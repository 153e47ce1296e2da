/**
 * The least role a token has in a subtree of the ACL paths: what a run covering the whole subtree (a verification of
 * a namespace and those below it) may do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leastRoleWithin, parseAclConfig } from '../../src/config/index.js';
import { parseAuthId } from '../../src/model/index.js';

const tok = parseAuthId('sync@pbs!site-a');

function least(acl: string, path: string, maxDepth: number) {
  return leastRoleWithin(parseAclConfig(acl, 'acl.cfg'), tok, path, maxDepth);
}

test('the least role in a subtree: the role at its top, lowered by a narrower entry within the depth, none where an entry does not propagate', () => {
  const admin = 'acl:1:/datastore/xxx:sync@pbs!site-a:admin\n';
  assert.equal(least(admin, '/datastore/xxx', 7), 'admin');
  assert.equal(least(admin, '/datastore/xxx/a/b', 7), 'admin');
  assert.equal(least(admin, '/datastore/yyy', 0), undefined);
  // Another token's entries do not count.
  assert.equal(least(`${admin}acl:1:/datastore/xxx/a:other@pbs!t:reader\n`, '/datastore/xxx', 7), 'admin');

  // A namespace two levels down lowered to reader: the subtree counts it only when the depth reaches it.
  const lowered = `${admin}acl:1:/datastore/xxx/a/secret:sync@pbs!site-a:reader\n`;
  assert.equal(least(lowered, '/datastore/xxx', 7), 'reader');
  assert.equal(least(lowered, '/datastore/xxx', 2), 'reader');
  assert.equal(least(lowered, '/datastore/xxx', 1), 'admin');
  assert.equal(least(lowered, '/datastore/xxx/a/other', 7), 'admin');
  // Raised again below the lowered one: the lowered level still counts.
  assert.equal(
    least(`${lowered}acl:1:/datastore/xxx/a/secret/deep:sync@pbs!site-a:admin\n`, '/datastore/xxx', 7),
    'reader',
  );

  // Not propagated: the role holds at that path only; below it the token has what it has above (here nothing).
  const here = 'acl:0:/datastore/xxx:sync@pbs!site-a:admin\n';
  assert.equal(least(here, '/datastore/xxx', 0), 'admin');
  assert.equal(least(here, '/datastore/xxx', 1), undefined);
  assert.equal(least(`${here}acl:1:/datastore:sync@pbs!site-a:reader\n`, '/datastore/xxx', 7), 'reader');
  // A non-propagated entry inside the subtree: below it, the role from above it.
  const inside = `${admin}acl:0:/datastore/xxx/a:sync@pbs!site-a:reader\n`;
  assert.equal(least(inside, '/datastore/xxx', 7), 'reader');
  assert.equal(least(inside, '/datastore/xxx/a/b', 7), 'admin');
});
