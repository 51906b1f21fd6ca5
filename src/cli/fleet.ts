/**
 * `flywheel fleet`: the flywheel over many Braintrust projects as one parent workflow (`fleetWorkflow`) with a
 * child run per project — bounded concurrency, jittered starts — and one fleet summary
 * (<out>/bt-flywheel-fleet.json and .md) beside each project's own handoff in <out>/<project>/.
 * Fleets are autonomous: nobody answers gates for twenty projects at once.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { Command } from 'commander';
import { durationMs } from '../../schemas/flywheel-input.js';
import { TASK_QUEUE } from '../shared.js';
import { termSafe } from '../untrusted.js';
import type { FleetInput, FleetStatus } from '../workflows/fleet.js';
import type { FleetRow } from '../activities/fleet.js';
import { braintrustEnv, CliError, EXIT_CODES, exitCodeFor, globalsOf, homeOf, output, temporalTarget, type GlobalOptions } from './common.js';
import { buildRunRequest, collect, type RunOptions } from './run.js';

export interface FleetOptions extends RunOptions {
  projects?: string;
  projectsFile?: string;
  fromBt?: boolean;
  match?: string;
  concurrency?: string;
  jitter?: string;
  fleetId?: string;
}

/** Project names from a file: one per line; blank lines and `#` comments are skipped. */
export function parseProjectsFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

/** The fleet's exit code: 0 when every project ended healthy or improved, else the worst outcome's code. */
export function fleetExitCode(rows: Pick<FleetRow, 'outcome'>[]): number {
  const worst = ['blocked', 'no_convergence', 'needs_work'].find((o) => rows.some((r) => r.outcome === o));
  return worst ? exitCodeFor(worst) : 0;
}

async function projectList(opts: FleetOptions, btEnv: Record<string, string>, cwd: string): Promise<string[]> {
  const sources = [opts.projects !== undefined, opts.projectsFile !== undefined, opts.fromBt === true].filter(Boolean).length;
  if (sources !== 1) throw new CliError('name the projects with exactly one of --projects a,b,c, --projects-file FILE or --from-bt [--match TEXT]', EXIT_CODES.usage);
  let projects: string[];
  const { BtClient } = await import('../bt/client.js');
  const visible = async () => (await new BtClient({ env: btEnv, cwd }).projectsList()).map((p) => p.name);
  if (opts.projects !== undefined) projects = opts.projects.split(',').map((p) => p.trim()).filter(Boolean);
  else if (opts.projectsFile !== undefined) {
    const file = resolve(opts.projectsFile);
    if (!existsSync(file)) throw new CliError(`--projects-file ${file} does not exist`, EXIT_CODES.usage);
    projects = parseProjectsFile(readFileSync(file, 'utf8'));
  } else {
    const match = opts.match?.toLowerCase();
    projects = (await visible()).filter((p) => !match || p.toLowerCase().includes(match));
  }
  projects = [...new Set(projects)];
  if (!projects.length) throw new CliError('the fleet has no projects', EXIT_CODES.usage);
  if (projects.length > 200) throw new CliError(`a fleet takes at most 200 projects (got ${projects.length}); split it`, EXIT_CODES.usage);
  if (!opts.fromBt) {
    const known = new Set(await visible());
    const missing = projects.filter((p) => !known.has(p));
    if (missing.length) throw new CliError(`Braintrust project(s) not found: ${missing.slice(0, 10).map((p) => termSafe(p, 100)).join(', ')}`, EXIT_CODES.usage);
  }
  return projects;
}

export async function fleetCommand(opts: FleetOptions, globals: GlobalOptions): Promise<number> {
  const log = (m: string) => {
    if (!globals.json) process.stderr.write(`${m}\n`);
  };
  if (opts.mode && opts.mode !== 'autonomous') throw new CliError('fleet runs are always autonomous (nobody answers gates for many projects); drop --mode', EXIT_CODES.usage);
  const concurrency = opts.concurrency !== undefined ? Number(opts.concurrency) : 3;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 20) throw new CliError(`--concurrency must be a whole number from 1 to 20 (got '${opts.concurrency}')`, EXIT_CODES.usage);
  const jitter = opts.jitter ?? '1m';
  try {
    durationMs(jitter);
  } catch {
    throw new CliError(`--jitter must be a duration such as 0s, 30s or 2m (got '${jitter}')`, EXIT_CODES.usage);
  }
  const home = homeOf(globals);
  const bt = await braintrustEnv(globals);
  const { input } = await buildRunRequest({ ...opts, mode: 'autonomous', project: 'fleet' }, globals);
  const projects = await projectList(opts, bt.btEnv, input.agentDir);
  const fleetId = opts.fleetId ?? `fleet-${new Date().toISOString().slice(0, 10)}`;
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(fleetId)) throw new CliError(`--fleet-id '${termSafe(fleetId, 120)}' may only use letters, digits, '.', '_' and '-' (at most 100)`, EXIT_CODES.usage);
  const { project: _ignored, ...base } = input;
  base.modeReason = `fleet run (fleet ${fleetId})`;
  const outDir = base.outDir;

  const target = await temporalTarget(globals, log);
  const [{ connectClient, connectWorkerConnection }, { createWorker, runQueueFor }, { createActivities }] = await Promise.all([
    import('../temporal/connection.js'),
    import('../worker.js'),
    import('../activities/index.js'),
  ]);
  const client = await connectClient(target);
  try {
    const inProcess = opts.worker !== false;
    const taskQueue = inProcess ? runQueueFor(home, fleetId) : TASK_QUEUE;
    const fleetInput: FleetInput = {
      projects,
      base: inProcess ? { ...base, hostQueues: { host: taskQueue, heavy: taskQueue } } : base,
      concurrency,
      jitter,
      outDir,
    };
    const handle = await client.workflow.start('fleetWorkflow', {
      taskQueue,
      workflowId: fleetId,
      args: [fleetInput],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // Which Braintrust the projects live on; the fleet passes it to each child run (one run per project per Braintrust).
      memo: { braintrust: bt.appUrl },
    });
    log(`fleet ${fleetId}: ${projects.length} projects, ${concurrency} at a time, starts jittered by up to ${jitter}; summary in ${outDir}`);
    if (opts.detach) {
      output(globals, { fleetId, runId: handle.firstExecutionRunId, projects }, fleetId);
      return 0;
    }
    const result = handle.result() as Promise<{ summaryPath: string; rows: FleetRow[] }>;
    const follow = async () => {
      let last = '';
      for (;;) {
        const settled = await Promise.race([result.then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), 2000))]);
        if (settled) return result;
        const s = (await handle.query<FleetStatus>('fleetStatus').catch(() => null)) as FleetStatus | null;
        if (!s) continue;
        const line = `fleet ${fleetId}: ${s.done.length}/${s.total} done${s.running.length ? `, running: ${s.running.map((p) => termSafe(p, 60)).join(', ')}` : ''}`;
        if (line !== last) log(line);
        last = line;
      }
    };
    let final: { summaryPath: string; rows: FleetRow[] };
    if (inProcess) {
      const connection = await connectWorkerConnection(target);
      try {
        const worker = await createWorker({ connection, namespace: target.namespace, taskQueue, activities: createActivities({ btEnv: bt.btEnv, appUrl: bt.appUrl }), maxConcurrentActivities: concurrency * 2 });
        final = await worker.runUntil(follow);
      } finally {
        await connection.close();
      }
    } else final = await follow();
    const code = fleetExitCode(final.rows);
    output(globals, { fleetId, summaryPath: final.summaryPath, rows: final.rows, exitCode: code }, () =>
      [
        ...final.rows.map((r) => `  ${termSafe(r.project, 60).padEnd(24)} ${r.outcome.padEnd(15)} ${r.summaryPath ?? termSafe(r.error ?? '', 200)}`),
        `fleet summary: ${final.summaryPath}`,
      ].join('\n'),
    );
    return code;
  } finally {
    await client.connection.close();
  }
}

export function registerFleetCommand(program: Command): Command {
  return program
    .command('fleet')
    .summary('run the flywheel over many projects, with one summary')
    .description(
      'Run the flywheel over many Braintrust projects: one autonomous run per project (a child of one fleet workflow), ' +
        'at most --concurrency at a time, each start delayed at random by up to --jitter, then one fleet summary ' +
        '(<out>/bt-flywheel-fleet.json and .md) beside each project\'s handoff in <out>/<project>/. ' +
        'Exit 0 when every project ended healthy or improved, else the worst outcome\'s code (needs_work 11, no_convergence 13, blocked 12).',
    )
    .option('--projects <names>', 'comma-separated project names')
    .option('--projects-file <file>', 'a file with one project name per line (# comments)')
    .option('--from-bt', 'every project `bt projects list` shows (narrow with --match)')
    .option('--match <text>', 'with --from-bt: only projects whose name contains this (case-insensitive)')
    .option('--concurrency <n>', 'runs at a time (default 3, at most 20)')
    .option('--jitter <duration>', 'delay each run\'s start at random by up to this (default 1m)')
    .option('--fleet-id <id>', 'workflow id of the fleet (default fleet-<date>; a second trigger the same day joins it)')
    .option('--goal <text>', 'what to improve (default "general health check")')
    .option('--agent-dir <dir>', "the agents' repository (default: the current directory)")
    .option('--eval-file <path...>', 'eval files relative to the agent directory')
    .option('--change-command <cmd>', 'change agent command')
    .option('--no-change-agent', 'no change agent (code routes end as briefs)')
    .option('--labeler <cmd>', 'labeler command')
    .option('--window <days>', 'discover window in days (default 7)')
    .option('--max-iterations <n>', 'loop limit per project (default 3)')
    .option('--eval-concurrency <n>', 'paired evals run at once per project (1-4, default 2; 1 for tight LLM rate limits)')
    .option('--out <dir>', 'where the fleet summary and the per-project handoffs go (default: the current directory)')
    .option('--retry-window <duration>', 'how long transient failures are retried (default 30m)')
    .option('--env-file <path>', 'a .env-format file loaded for `bt eval` (repeatable)', collect)
    .option('--eval-env <name>', "pass this variable of the worker's environment to `bt eval` (repeatable)", collect)
    .option('--no-dotenv', "do not load the agent directory's .env for `bt eval`")
    .option('--agent-env <name>', "let the change agent and labeler see this variable (repeatable)", collect)
    .option('--detach', 'start the fleet and print its id without waiting')
    .option('--no-worker', 'do not run a worker in this process (use `flywheel worker` elsewhere)')
    .action(async (opts: FleetOptions, cmd: Command) => {
      process.exitCode = await fleetCommand(opts, globalsOf(cmd));
    });
}
