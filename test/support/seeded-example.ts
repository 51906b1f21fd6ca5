/**
 * The defective example seeded into a fresh local Braintrust server at the fixed test clock, with Orient run on it:
 * the set-up the Discover tests share.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flywheelInputSchema } from '../../schemas/flywheel-input.js';
import { createActivities } from '../../src/activities/index.js';
import { startLocalServer, type LocalServerHandle } from '../../src/local-server/index.js';
import type { OrientContext } from '../../src/workflows/types.js';
import { btEnvFor, EXAMPLE_DIR, generateAtFixedClock } from './example-window.js';

export interface SeededExample {
  home: string;
  server: LocalServerHandle;
  /** `bt`'s environment for this server (its own HOME). */
  env: Record<string, string>;
  ctx: OrientContext;
  close(): Promise<void>;
}

export async function seedDefectiveExample(opts: { prefix: string; workflowId: string; project?: string; traces?: number }): Promise<SeededExample> {
  const project = opts.project ?? 'support-agent';
  const home = mkdtempSync(join(tmpdir(), `${opts.prefix}-`));
  const server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  try {
    const env = btEnvFor(server.btEnv(), home);
    const data = await generateAtFixedClock({ outDir: join(home, 'sync'), projectName: project, variant: 'defective', traces: opts.traces ?? 800, seed: 42 });
    await server.seedFromSyncDir(data.gen.dir, { projectName: project });
    const activities = createActivities({ btEnv: env, appUrl: server.appUrl });
    const config = flywheelInputSchema.parse({ project, agentDir: EXAMPLE_DIR, workOnCopy: false, outDir: join(home, 'out'), runsDir: join(home, 'runs') });
    const ctx = await activities.orient(config, opts.workflowId);
    return {
      home,
      server,
      env,
      ctx,
      close: async () => {
        await server.close();
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.close();
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
}
