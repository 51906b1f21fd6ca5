/** `flywheel worker` (BUILT CLI): polls the task queue it is given and stops gracefully on SIGTERM. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureCliBuilt, repoRoot } from './support/cli-flywheel.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

describeTemporal('flywheel worker (built CLI, shared dev server)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flywheel-cli-worker-'));
    await ensureCliBuilt();
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('polls the given task queue until SIGTERM, then exits 0', async () => {
    const queue = `worker-${randomUUID().slice(0, 8)}`;
    // A Braintrust key means "the real service": nothing local is started, and nothing is contacted until a run.
    const child = execa(process.execPath, [join(repoRoot, 'bin', 'flywheel.js'), 'worker', '--task-queue', queue, '--address', temporalAddress!, '--home', join(dir, 'home')], {
      cwd: dir,
      env: { BRAINTRUST_API_KEY: 'test-key-not-used', TEMPORAL_ADDRESS: undefined, CI: undefined },
      reject: false,
      stdin: 'ignore',
      timeout: 90_000,
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes(`worker polling task queue "${queue}"`)) resolve();
      });
      void child.then(() => reject(new Error(`worker exited early:\n${stderr}`)));
    });
    child.kill('SIGTERM');
    const res = await child;
    expect(res.exitCode).toBe(0);
    expect(String(res.stderr)).toContain('worker stopped');
  });
});
