/**
 * Python eval files run through the same path as TypeScript ones: the real `bt eval --jsonl` with the
 * braintrust Python SDK (installed into .tools/py by scripts/setup.sh), against the local server.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { packageRoot } from '../src/paths.js';

const pyBin = join(packageRoot, '.tools', 'py', 'bin');
const hasPython = existsSync(join(pyBin, 'python'));
const fixtures = join(packageRoot, 'test', 'fixtures', 'python-eval');
const tmp = mkdtempSync(join(tmpdir(), 'bt-eval-py-'));
let server: LocalServerHandle;

const client = (extra: Record<string, string> = {}) =>
  new BtClient({ env: { ...server.btEnv(), HOME: tmp, XDG_CACHE_HOME: join(tmp, '.cache'), XDG_CONFIG_HOME: join(tmp, '.config'), PATH: `${pyBin}:${process.env.PATH ?? ''}`, ...extra } });

describe.skipIf(!hasPython && process.env.REQUIRE_TEMPORAL !== '1')('bt eval of a Python eval file', () => {
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reports the experiment and the server-computed scores; a second run is compared with the first', async () => {
    const first = await client().eval(['eval_double.py'], { cwd: fixtures });
    expect(first.summaries, first.stderrTail).toHaveLength(1);
    const a = first.summaries[0]!;
    expect(a.experimentId).toBeTruthy();
    expect(a.scores.exact!.score).toBeCloseTo(2 / 3, 9);
    const rows = await client().sql(`SELECT COUNT(*) AS n FROM experiment('${a.experimentId}') WHERE is_root = true`);
    expect(Number((rows.data[0] as { n: number }).n)).toBe(3);

    // Tripling instead of doubling: only the row expecting 7 stays wrong… and the two others now fail.
    const second = await client({ FACTOR: '3' }).eval(['eval_double.py'], { cwd: fixtures });
    const b = second.summaries[0]!;
    expect(b.comparisonExperimentName).toBe(a.experimentName);
    expect(b.scores.exact).toMatchObject({ score: 0, regressions: 2, improvements: 0 });
    expect(b.scores.exact!.diff).toBeCloseTo(-2 / 3, 9);
  });
});
