/** `flywheel local start|seed|stop|status`: manage the background local Braintrust server. */
import type { Command } from 'commander';
import { flywheelHome } from '../paths.js';
import { ensureLocalServer, localServerStatus, seedLocalServer, stopLocalServer, type LocalServerInfo } from './daemon.js';

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `export BRAINTRUST_…=…` lines that point a person's own `bt` at the server. */
export function exportLines(info: Pick<LocalServerInfo, 'btEnv'>): string[] {
  return Object.entries(info.btEnv()).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
}

function describe(info: LocalServerInfo): Record<string, unknown> {
  return {
    appUrl: info.appUrl,
    apiUrl: info.apiUrl,
    apiKey: info.apiKey,
    orgName: info.orgName,
    dataFile: info.dataFile,
    port: info.port,
    pid: info.pid,
    started: info.started,
    env: info.btEnv(),
  };
}

function printInfo(info: LocalServerInfo, heading: string): void {
  const lines = [
    heading,
    `  app URL:   ${info.appUrl}`,
    `  API URL:   ${info.apiUrl}`,
    `  API key:   ${info.apiKey}`,
    `  org:       ${info.orgName}`,
    `  data file: ${info.dataFile}`,
    `  pid:       ${info.pid}`,
    '',
    'Point your own bt at it:',
    ...exportLines(info).map((l) => `  ${l}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port: ${v}`);
  return n;
}

export function registerLocalCommands(program: Command): Command {
  const local = program.command('local').description('Run the embedded Braintrust-compatible server (DuckDB) that bt talks to');

  local
    .command('start')
    .description('Start the local server in the background (or reuse the running one) and print how to use it')
    .option('--port <n>', 'port on 127.0.0.1 (default: last used, else random)', parsePort)
    .option('--json', 'print one JSON object')
    .action(async (opts: { port?: number; json?: boolean }) => {
      const info = await ensureLocalServer({ home: flywheelHome(), ...(opts.port !== undefined ? { port: opts.port } : {}) });
      if (opts.json) process.stdout.write(`${JSON.stringify(describe(info))}\n`);
      else printInfo(info, info.started ? 'Local Braintrust server started:' : 'Local Braintrust server already running:');
    });

  local
    .command('seed')
    .description('Load a `bt sync pull` output directory (root, object dir or spec dir) into the local server')
    .argument('<dir>', 'bt sync pull directory')
    .option('--project-name <name>', 'project name to use when the sync data only has project ids')
    .option('--json', 'print one JSON object')
    .action(async (dir: string, opts: { projectName?: string; json?: boolean }) => {
      const info = await ensureLocalServer({ home: flywheelHome() });
      const result = await seedLocalServer(info, dir, opts.projectName ? { projectName: opts.projectName } : {});
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...result, appUrl: info.appUrl })}\n`);
      else process.stdout.write(`Seeded ${result.rows} row(s) into ${result.projects} project(s) on ${info.appUrl}\n`);
    });

  local
    .command('stop')
    .description('Stop the background local server')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const r = await stopLocalServer(flywheelHome());
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(r.stopped ? `Stopped local server (pid ${r.pid}).\n` : 'Local server was not running.\n');
    });

  local
    .command('status')
    .description('Show whether the local server is running')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const s = await localServerStatus(flywheelHome());
      if (opts.json) process.stdout.write(`${JSON.stringify(s ? { running: true, healthy: s.healthy, ...describe(s) } : { running: false })}\n`);
      else if (!s) process.stdout.write('Local server is not running.\n');
      else printInfo(s, s.healthy ? 'Local Braintrust server running:' : 'Local Braintrust server running but not answering:');
    });

  return local;
}
