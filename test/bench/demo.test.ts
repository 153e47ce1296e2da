import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { finished, ROOT } from '../helpers/cli.js';

test('the demo runs end to end (--quick): serve, WAN simulator, pulls with 1 and 4 threads, both summaries, verify', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'demo.ts'), '--quick'], {
    cwd: ROOT,
    env: { ...process.env, FERRY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout: out, stderr: err } = await finished(child);
  assert.equal(code, 0, `${out}\n${err}`);
  assert.match(out, /=== both summaries/);
  assert.match(out, /^\s+1\s+4\/4\s+8\s/m, 'worker-threads 1 pulled 4 groups, 8 snapshots');
  assert.match(out, /^\s+4\s+4\/4\s+8\s/m, 'worker-threads 4 pulled 4 groups, 8 snapshots');
  assert.match(out, /site B verified every chunk: ok/);
  assert.match(out, /temporary homes removed/);
});
