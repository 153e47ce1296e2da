import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/cli.js';

/**
 * The bench (and the demo's driver) run sync jobs inside their own process, where the CLI runs them under bin/ferry.
 * What they time must be what `ferry` does, so their npm scripts start Node the way bin/ferry does: the same V8
 * flags and the same defaults for the environment bin/ferry sets (libuv's pool, glibc's malloc arenas).
 */
function ferryLaunch(): { flags: string[]; env: Map<string, string> } {
  const script = readFileSync(join(ROOT, 'bin', 'ferry'), 'utf8');
  const env = new Map<string, string>();
  for (const m of script.matchAll(/^export (\w+)="\$\{\1:-([^}]*)\}"$/gm))
    env.set(m[1] as string, m[2] as string);
  const exec = script.match(/^\s*exec node ((?:--[\w-]+(?:=\S+)? )+)"\$entry"/m);
  assert.ok(exec, 'bin/ferry runs the built CLI with `exec node <flags> "$entry"`');
  // Source maps only change what a stack trace shows (and cost nothing measurable per thread).
  const flags = (exec[1] as string)
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '--enable-source-maps');
  return { flags, env };
}

for (const name of ['bench', 'demo']) {
  test(`npm run ${name} starts Node with bin/ferry's flags and environment`, () => {
    const { flags, env } = ferryLaunch();
    assert.ok(
      env.has('UV_THREADPOOL_SIZE') && env.has('MALLOC_ARENA_MAX'),
      `bin/ferry sets: ${[...env.keys()]}`,
    );
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const command = pkg.scripts[name] ?? '';
    const launch = command
      .slice(command.lastIndexOf('&&') + 2)
      .trim()
      .split(/\s+/);
    const node = launch.indexOf('node');
    assert.ok(node > 0, `${name}: ${command}`);
    const given = new Map(launch.slice(0, node).map((a) => a.split('=', 2) as [string, string]));
    assert.deepEqual(given, env, `${name}: the environment bin/ferry sets`);
    assert.deepEqual(
      launch.slice(node + 1, node + 1 + flags.length),
      flags,
      `${name}: bin/ferry's node flags`,
    );
  });
}
