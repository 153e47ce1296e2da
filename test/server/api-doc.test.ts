import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Pool } from 'undici';
import { authorizationHeader, ROUTES } from '../../src/protocol/index.js';
import { FerryClient, ReaderSession, WriterSession } from '../../src/remote/index.js';
import { ROOT } from '../helpers/cli.js';
import { startServerWorld } from '../helpers/server.js';

interface DocRoute {
  method: string;
  path: string;
  clientCalls: string[];
}

/** The `### \`METHOD /path\`` sections of docs/API.md and the client calls each one names. */
async function documentedRoutes(): Promise<DocRoute[]> {
  const text = await readFile(join(ROOT, 'docs/API.md'), 'utf8');
  const sections = text.split(/^### /m).slice(1);
  const out: DocRoute[] = [];
  for (const section of sections) {
    const m = /^`(GET|POST|PUT|DELETE) (\/api2\/json\/[^`]+)`/.exec(section);
    if (!m) continue;
    const client = /Client:\s+([^\n]+(?:\n[^\n]+)?)/.exec(section)?.[1] ?? '';
    const clientCalls = [...client.matchAll(/`(?:(ReaderSession|WriterSession)\.)?([a-zA-Z]+)\(/g)].map(
      (c) => (c[1] ? `${c[1]}.${c[2]}` : (c[2] as string)),
    );
    out.push({ method: m[1] as string, path: m[2] as string, clientCalls });
  }
  return out;
}

test('docs/API.md documents every route of the route table, and only those', async () => {
  const documented = new Set((await documentedRoutes()).map((r) => r.path));
  const table = new Set(Object.values(ROUTES).map((p) => p.replace(/:([a-z]+)/g, '{$1}')));
  assert.deepEqual(
    [...table].filter((p) => !documented.has(p)),
    [],
    'routes missing from docs/API.md',
  );
  assert.deepEqual(
    [...documented].filter((p) => !table.has(p)),
    [],
    'documented routes that do not exist',
  );
});

test('every documented route is served, and names a client method that exists', async (t) => {
  const world = await startServerWorld(t);
  const creds = await world.token('admin@pam!t', [['/', 'admin']]);
  const pool = new Pool(world.server.url, { connect: { rejectUnauthorized: false } });
  t.after(() => pool.close());
  const routes = await documentedRoutes();
  assert.ok(routes.length >= 17, `only ${routes.length} routes documented`);
  for (const route of routes) {
    const path = route.path.replace('{store}', 'store1').replace('{session}', '0'.repeat(32));
    const res = await pool.request({
      method: route.method as 'GET',
      path,
      headers: { authorization: authorizationHeader(creds.authId, creds.secret) },
    });
    const body = (await res.body.json()) as { error?: { message: string } };
    assert.doesNotMatch(
      body.error?.message ?? '',
      /^no route/,
      `${route.method} ${route.path} is not served`,
    );
    assert.ok(route.clientCalls.length > 0, `${route.method} ${route.path} names no client method`);
    for (const call of route.clientCalls) {
      const [cls, name] = call.includes('.') ? (call.split('.') as [string, string]) : ['FerryClient', call];
      const proto = { FerryClient, ReaderSession, WriterSession }[cls as 'FerryClient']
        .prototype as unknown as Record<string, unknown>;
      assert.equal(typeof proto[name], 'function', `${route.method} ${route.path}: ${call} does not exist`);
    }
  }
});
