/** `flywheel local start|seed|stop|status`: manage the background local Braintrust server. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ensureDevServer, readDevServerRecord, stopDevServer } from '../temporal/devserver.js';
import { flywheelHome } from '../paths.js';
import { ensureLocalServer, localServerStatus, seedLocalServer, stopLocalServer, type LocalServerInfo } from './daemon.js';

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Shown instead of the local API key unless asked for (`local env`, `--show-key`). */
export const KEY_HIDDEN = '<hidden: `flywheel local env` prints it>';

/**
 * `export BRAINTRUST_…=…` lines that point a person's own `bt` at the server. The key is a secret like any
 * other: it is printed only when asked for (`showKey`); otherwise its line reads it from `flywheel local env`.
 */
export function exportLines(info: Pick<LocalServerInfo, 'btEnv'>, showKey = false): string[] {
  return Object.entries(info.btEnv()).map(([k, v]) =>
    k === 'BRAINTRUST_API_KEY' && !showKey ? `export ${k}="$(flywheel local env --key)"` : `export ${k}=${shellQuote(v)}`,
  );
}

function describe(info: LocalServerInfo, showKey: boolean): Record<string, unknown> {
  const env = info.btEnv();
  return {
    appUrl: info.appUrl,
    apiUrl: info.apiUrl,
    apiKey: showKey ? info.apiKey : KEY_HIDDEN,
    orgName: info.orgName,
    dataFile: info.dataFile,
    port: info.port,
    pid: info.pid,
    started: info.started,
    env: showKey ? env : { ...env, BRAINTRUST_API_KEY: KEY_HIDDEN },
  };
}

function printInfo(info: LocalServerInfo, heading: string, showKey: boolean): void {
  const lines = [
    heading,
    `  app URL:   ${info.appUrl}`,
    `  API URL:   ${info.apiUrl}`,
    `  API key:   ${showKey ? info.apiKey : KEY_HIDDEN}`,
    `  org:       ${info.orgName}`,
    `  data file: ${info.dataFile}`,
    `  pid:       ${info.pid}`,
    '',
    'Point your own bt at it (or run: eval "$(flywheel local env)"):',
    ...exportLines(info, showKey).map((l) => `  ${l}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port: ${v}`);
  return n;
}

/** Global options the root program carries (--home, --json). */
interface LocalGlobals {
  home?: string;
  json?: boolean;
}

function homeFrom(cmd: Command): string {
  const g = cmd.optsWithGlobals() as LocalGlobals;
  return g.home ? resolve(g.home) : flywheelHome();
}

function jsonFrom(cmd: Command): boolean {
  return (cmd.optsWithGlobals() as LocalGlobals).json === true;
}

export function registerLocalCommands(program: Command): Command {
  const local = program
    .command('local')
    .description('The embedded defaults: the local Braintrust-compatible server (DuckDB) and the Temporal dev server, kept under --home');

  local
    .command('start')
    .description('Start both servers in the background (or reuse running ones) and print how to point bt and temporal at them')
    .option('--port <n>', 'Braintrust server port on 127.0.0.1 (default: last used, else random)', parsePort)
    .option('--no-temporal', 'start only the Braintrust server')
    .option('--show-key', 'print the local API key (hidden by default, like every secret)')
    .action(async (opts: { port?: number; temporal?: boolean; showKey?: boolean }, cmd: Command) => {
      const showKey = opts.showKey === true;
      const home = homeFrom(cmd);
      const info = await ensureLocalServer({ home, ...(opts.port !== undefined ? { port: opts.port } : {}) });
      const temporal = opts.temporal === false ? null : await ensureDevServer(home, { log: (m) => process.stderr.write(`${m}\n`) });
      const temporalInfo = temporal ? { address: temporal.address, uiUrl: temporal.uiUrl, reused: temporal.reused } : null;
      if (jsonFrom(cmd)) process.stdout.write(`${JSON.stringify({ ...describe(info, showKey), temporal: temporalInfo })}\n`);
      else {
        printInfo(info, info.started ? 'Local Braintrust server started:' : 'Local Braintrust server already running:', showKey);
        if (temporal) process.stdout.write(`\nTemporal dev server ${temporal.reused ? 'already running' : 'started'}: ${temporal.address}${temporal.uiUrl ? ` (Web UI ${temporal.uiUrl})` : ''}\n`);
      }
    });

  local
    .command('seed')
    .description('Load a `bt sync pull` output directory (root, object dir or spec dir) into the local server')
    .argument('<dir>', 'bt sync pull directory')
    .option('--project-name <name>', 'project name to use when the sync data only has project ids')
    .action(async (dir: string, opts: { projectName?: string }, cmd: Command) => {
      if (!existsSync(dir)) throw new Error(`${dir} does not exist; pass a \`bt sync pull\` output directory`);
      const info = await ensureLocalServer({ home: homeFrom(cmd) });
      const result = await seedLocalServer(info, dir, opts.projectName ? { projectName: opts.projectName } : {});
      if (jsonFrom(cmd)) process.stdout.write(`${JSON.stringify({ ...result, appUrl: info.appUrl })}\n`);
      else process.stdout.write(`Seeded ${result.rows} row(s) into ${result.projects} project(s) on ${info.appUrl}\n`);
    });

  local
    .command('stop')
    .description('Stop the background servers this project started (both keep their data for next time)')
    .action(async (_opts: unknown, cmd: Command) => {
      const home = homeFrom(cmd);
      const r = await stopLocalServer(home);
      const temporal = await stopDevServer(home);
      if (jsonFrom(cmd)) process.stdout.write(`${JSON.stringify({ ...r, temporalStopped: temporal })}\n`);
      else {
        process.stdout.write(r.stopped ? `Stopped local Braintrust server (pid ${r.pid}).\n` : 'Local Braintrust server was not running.\n');
        process.stdout.write(temporal ? 'Stopped the Temporal dev server.\n' : 'No Temporal dev server of this project was running.\n');
      }
    });

  local
    .command('env')
    .description('Print `export BRAINTRUST_…` lines (the local API key included) for your own bt: eval "$(flywheel local env)"')
    .option('--key', 'print only the API key')
    .action(async (opts: { key?: boolean }, cmd: Command) => {
      const s = await localServerStatus(homeFrom(cmd));
      if (!s) throw new Error('the local Braintrust server is not running; start it with `flywheel local start`');
      process.stdout.write(opts.key ? `${s.apiKey}\n` : `${exportLines(s, true).join('\n')}\n`);
    });

  local
    .command('status')
    .description('Show whether the local servers are running')
    .option('--show-key', 'print the local API key (hidden by default)')
    .action(async (opts: { showKey?: boolean }, cmd: Command) => {
      const showKey = opts.showKey === true;
      const home = homeFrom(cmd);
      const s = await localServerStatus(home);
      const t = readDevServerRecord(home);
      if (jsonFrom(cmd)) {
        process.stdout.write(`${JSON.stringify({ ...(s ? { running: true, healthy: s.healthy, ...describe(s, showKey) } : { running: false }), temporal: t ?? null })}\n`);
      } else {
        if (!s) process.stdout.write('Local Braintrust server is not running.\n');
        else printInfo(s, s.healthy ? 'Local Braintrust server running:' : 'Local Braintrust server running but not answering:', showKey);
        process.stdout.write(t ? `Temporal dev server recorded at 127.0.0.1:${t.port} (pid ${t.pid}).\n` : 'No Temporal dev server recorded.\n');
      }
    });

  return local;
}
