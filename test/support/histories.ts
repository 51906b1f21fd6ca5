/** Saves a run's history as a replay fixture when RECORD_HISTORIES=1 (see test/replay.test.ts). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { packageRoot } from '../../src/paths.js';

export const HISTORIES_DIR = join(packageRoot, 'test', 'histories');

export async function historyJson(client: Client, workflowId: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory());
}

export async function maybeRecordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), await historyJson(client, workflowId));
}
