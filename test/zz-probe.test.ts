import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { startLocalServer } from '../src/local-server/index.js';
import { btEnvFor, generateAtFixedClock } from '../test/support/example-window.js';
it('probe', async () => {
  const home = mkdtempSync(join(tmpdir(), 'probe-'));
  const server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  const data = await generateAtFixedClock({ outDir: join(home, 'sync'), projectName: 'p', traces: 300, seed: 42 });
  await server.seedFromSyncDir(data.gen.dir, { projectName: 'p' });
  const bt = new BtClient({ env: btEnvFor(server.btEnv(), home) } as any);
  const pid = data.rows[0]!.project_id;
  for (const q of [
    `SELECT classifications."Task"[0].label AS value, COUNT(*) AS n FROM project_logs('${pid}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day AND classifications."Task"[0].label IS NOT NULL GROUP BY classifications."Task"[0].label ORDER BY n DESC LIMIT 25`,
    `SELECT classifications."Issues"[0].label AS value, COUNT(*) AS n FROM project_logs('${pid}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day GROUP BY classifications."Issues"[0].label`,
    `SELECT COUNT(*) AS n FROM project_logs('${pid}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day AND tags IN ('tier:free')`,
    `SELECT count((tags IN ('tier:free')) ? 1 : null) AS n FROM project_logs('${pid}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day`,
  ]) {
    try { console.log(JSON.stringify((await bt.sql(q)).data)); } catch (e) { console.log('ERR', (e as Error).message.slice(0, 400)); }
  }
  await server.close();
}, 120000);
