/**
 * Entry point of the background local-server process started by `ensureLocalServer`.
 *
 *   node main.js --data-file <f> --state-file <f> [--port N] [--org-name local]
 *
 * The API key comes from the BT_LOCAL_SERVER_API_KEY environment variable (never argv, so it does not
 * show up in `ps`). Once listening, it records {pid, port, apiKey, dataFile, …} in the state file
 * (mode 0600) and serves until SIGTERM/SIGINT.
 */
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateApiKey, startLocalServer } from './index.js';

async function main(): Promise<void> {
  // The DuckDB file (and its WAL) holds production traces: owner-only.
  process.umask(0o077);
  const { values } = parseArgs({
    options: {
      'data-file': { type: 'string' },
      'state-file': { type: 'string' },
      port: { type: 'string', default: '0' },
      'org-name': { type: 'string', default: 'local' },
    },
    strict: true,
  });
  const dataFile = values['data-file'];
  if (!dataFile) throw new Error('--data-file is required');
  const apiKey = process.env.BT_LOCAL_SERVER_API_KEY || generateApiKey();
  const handle = await startLocalServer({ dataFile, apiKey, port: Number(values.port), orgName: values['org-name']! });
  const stateFile = values['state-file'];
  if (stateFile) {
    const state = {
      pid: process.pid,
      port: handle.port,
      apiKey: handle.apiKey,
      dataFile: handle.dataFile,
      orgName: handle.orgName,
      appUrl: handle.appUrl,
      apiUrl: handle.apiUrl,
      startedAt: new Date().toISOString(),
    };
    const tmp = `${stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, stateFile);
  }
  process.stdout.write(`local Braintrust server listening on ${handle.appUrl} (data: ${handle.dataFile})\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`received ${signal}, shutting down\n`);
    handle
      .close()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        process.stderr.write(`shutdown failed: ${(e as Error).message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`local server failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
