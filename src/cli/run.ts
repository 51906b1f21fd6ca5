/**
 * `flywheel run`: start a flywheel (or join today's run for the project), by default with an in-process
 * worker on the embedded defaults, showing live progress until the handoff is written.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { WorkflowIdConflictPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { Command, Option } from 'commander';
import { createActivities } from '../activities/index.js';
import { packageRoot } from '../paths.js';
import { TASK_QUEUE } from '../shared.js';
import { connectWorkerConnection } from '../temporal/connection.js';
import { createWorker } from '../worker.js';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { appliedSignal, approveSignal, overrideSignal, rejectSignal, stopSignal, type FlywheelStatus } from '../workflows/definitions.js';
import type { FlywheelResult } from '../workflows/flywheel.js';
import { flywheelInputSchema, type FlywheelInput } from '../../schemas/flywheel-input.js';
import { FORWARDED_ENV_KEYS } from '../bt/run.js';
import { checkPassName, evalEnvSpec, resolveEvalEnv } from '../eval-env.js';
import { answerHints, progressLine, report } from './ops.js';
import {
  actorName,
  braintrustEnv,
  CliError,
  EXIT_CODES,
  globalsOf,
  homeOf,
  loadConfigFile,
  output,
  temporalTarget,
  type GlobalOptions,
} from './common.js';

export interface RunOptions {
  project?: string;
  goal?: string;
  mode?: 'autonomous' | 'interactive';
  baseline?: string;
  window?: string;
  evalFile?: string[];
  agentDir?: string;
  changeCommand?: string;
  /** commander sets this to false for --no-change-agent. */
  changeAgent?: boolean;
  labeler?: string;
  gateTimeout?: string;
  out?: string;
  workflowId?: string;
  dataset?: string;
  maxIterations?: string;
  example?: boolean;
  snapshot?: string;
  detach?: boolean;
  worker?: boolean;
  /** --env-file (repeatable). */
  envFile?: string[];
  /** --eval-env (repeatable). */
  evalEnv?: string[];
  /** commander sets this to false for --no-dotenv. */
  dotenv?: boolean;
}

const asList = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/** Repeatable option collector (undefined until given, so a flag can replace the config file's list). */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export const EXAMPLE_PROJECT = 'support-agent';
export const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');

/** Splits a command line into argv (whitespace, with '…' and "…" quoting); no shell is ever involved. */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of text.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  if (!out.length) throw new CliError(`empty command: '${text}'`, EXIT_CODES.usage);
  return out;
}

/** Autonomous when asked, or when CI=true / FLYWHEEL_AUTONOMOUS=true (the seed's signals); else interactive. */
export function resolveMode(flag: string | undefined, config: string | undefined, env: NodeJS.ProcessEnv): { mode: 'autonomous' | 'interactive'; reason: string } {
  const truthy = (v?: string) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
  if (flag) return { mode: flag as 'autonomous' | 'interactive', reason: `--mode ${flag}` };
  if (config) return { mode: config as 'autonomous' | 'interactive', reason: `mode: ${config} in the config file` };
  if (truthy(env.CI)) return { mode: 'autonomous', reason: 'CI=true' };
  if (truthy(env.FLYWHEEL_AUTONOMOUS)) return { mode: 'autonomous', reason: 'FLYWHEEL_AUTONOMOUS=true' };
  return { mode: 'interactive', reason: 'no autonomous signal present' };
}

export function defaultWorkflowId(projectOrDir: string, now = new Date()): string {
  return `flywheel-${projectOrDir.replace(/[^A-Za-z0-9._-]+/g, '-')}-${now.toISOString().slice(0, 10)}`;
}

/** The run's workflow id and validated input, from flags > env > config file > defaults. */
export async function buildRunRequest(opts: RunOptions, globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<{ workflowId: string; input: FlywheelInput }> {
  const cfg = loadConfigFile(globals, env);
  const home = homeOf(globals, env);
  const example = opts.example === true;
  const { mode, reason } = resolveMode(opts.mode ?? (example && !opts.mode ? 'autonomous' : undefined), cfg.mode, env);
  const agentDir = resolve(opts.agentDir ?? (example ? EXAMPLE_DIR : (cfg.agentDir ?? process.cwd())));
  if (!existsSync(agentDir)) throw new CliError(`--agent-dir ${agentDir} does not exist`, EXIT_CODES.usage);
  const project = opts.project ?? (example ? EXAMPLE_PROJECT : cfg.project);
  let changeCommand: string[] | undefined = opts.changeCommand ? splitCommand(opts.changeCommand) : cfg.changeCommand;
  if (example && !opts.changeCommand) changeCommand = [process.execPath, join(EXAMPLE_DIR, 'change-agent.mjs')];
  if (opts.changeAgent === false) changeCommand = undefined;
  let labeler: string[] | undefined = opts.labeler ? splitCommand(opts.labeler) : cfg.labeler;
  if (example && !opts.labeler) labeler = [join(packageRoot, 'node_modules', '.bin', 'tsx'), join(EXAMPLE_DIR, 'labeler.ts')];
  const windowDays = opts.window !== undefined ? Number(opts.window) : cfg.windowDays;
  if (windowDays !== undefined && (!Number.isInteger(windowDays) || windowDays < 1)) {
    throw new CliError(`--window must be a whole number of days (got '${opts.window}')`, EXIT_CODES.usage);
  }
  const maxIterations = opts.maxIterations !== undefined ? Number(opts.maxIterations) : undefined;
  const workflowId = opts.workflowId ?? defaultWorkflowId(project ?? basename(agentDir));
  const outDir = resolve(opts.out ?? cfg.outDir ?? (example ? join(home, 'example-out') : process.cwd()));
  const input: FlywheelInput = {
    ...(project ? { project } : {}),
    goal: opts.goal ?? env.FLYWHEEL_GOAL ?? cfg.goal ?? 'general health check',
    mode,
    modeReason: reason,
    ...((opts.baseline ?? env.FLYWHEEL_BASELINE_EXPERIMENT ?? cfg.baseline) ? { baselineExperiment: opts.baseline ?? env.FLYWHEEL_BASELINE_EXPERIMENT ?? cfg.baseline } : {}),
    ...(windowDays !== undefined ? { windowDays } : {}),
    evalFiles: opts.evalFile?.length ? opts.evalFile : (cfg.evalFiles ?? []),
    agentDir,
    workOnCopy: example,
    ...(changeCommand ? { changeCommand } : {}),
    ...(labeler ? { labeler } : {}),
    ...((opts.gateTimeout ?? cfg.gateTimeout) ? { gateTimeout: opts.gateTimeout ?? cfg.gateTimeout } : {}),
    outDir,
    runsDir: join(home, 'runs'),
    ...((opts.dataset ?? cfg.datasetName) ? { datasetName: opts.dataset ?? cfg.datasetName } : {}),
    ...(maxIterations !== undefined ? { maxIterations } : {}),
    // bt eval's extra environment: paths and names only (the worker reads the values when it runs the eval).
    dotenv: opts.dotenv === false ? false : (cfg.dotenv ?? true),
    envFiles: (opts.envFile ?? asList(cfg.envFile) ?? []).map((f) => resolve(f)),
    evalEnv: [...new Set(opts.evalEnv ?? asList(cfg.evalEnv) ?? [])],
  };
  const parsed = flywheelInputSchema.safeParse(input);
  for (const name of input.evalEnv ?? []) {
    try {
      checkPassName(name, FORWARDED_ENV_KEYS);
    } catch (err) {
      throw new CliError((err as Error).message, EXIT_CODES.usage);
    }
  }
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new CliError(`invalid option ${i.path.join('.')}: ${i.message}`, EXIT_CODES.usage);
  }
  return { workflowId, input };
}

/** Seeds the embedded Braintrust server with the example project's generated production traces (once). */
async function prepareExample(home: string, server: { appUrl: string; apiKey: string }, log: (m: string) => void): Promise<void> {
  const { seedLocalServer } = await import('../local-server/daemon.js');
  const marker = join(home, 'example-seeded.json');
  if (existsSync(marker)) return;
  log("generating the example project's production traces (30 days, seeded)…");
  // The generator runs the example agent (TypeScript) itself, so it runs under tsx as a subprocess.
  const { execa } = await import('execa');
  const gen = await execa(join(packageRoot, 'node_modules', '.bin', 'tsx'), [join(EXAMPLE_DIR, 'generate-traces.ts'), '--out', join(home, 'example-sync'), '--project-name', EXAMPLE_PROJECT], { stdin: 'ignore', reject: false });
  if (gen.exitCode !== 0) throw new CliError(`generating the example traces failed: ${String(gen.stderr).slice(-500)}`);
  const res = JSON.parse(String(gen.stdout).trim().split('\n').pop() ?? '{}') as { dir: string; spans: number; traces: number };
  log(`seeding the local Braintrust server with ${res.traces} traces / ${res.spans} spans…`);
  await seedLocalServer(server, res.dir, { projectName: EXAMPLE_PROJECT });
  const { writeJsonAtomic } = await import('../activities/files.js');
  await writeJsonAtomic(marker, { seededAt: new Date().toISOString(), ...res });
}

async function prepareSnapshot(server: { appUrl: string; apiKey: string }, dir: string, project: string | undefined, log: (m: string) => void): Promise<string | undefined> {
  const { seedLocalServer } = await import('../local-server/daemon.js');
  if (!existsSync(dir)) throw new CliError(`--snapshot ${dir} does not exist; pass a \`bt sync pull\` output directory`, EXIT_CODES.usage);
  log(`seeding the local Braintrust server from ${dir}…`);
  const res = await seedLocalServer(server, resolve(dir), project ? { projectName: project } : {});
  log(`seeded ${JSON.stringify(res)}`);
  return project ?? guessSnapshotProject(dir);
}

/** The project name recorded in a bt sync spec (object_name), if any. */
function guessSnapshotProject(dir: string): string | undefined {
  const stack = [resolve(dir)];
  while (stack.length) {
    const d = stack.pop()!;
    const spec = join(d, 'spec.json');
    if (existsSync(spec)) {
      try {
        const s = JSON.parse(readFileSync(spec, 'utf8')) as { object_type?: string; object_name?: string };
        if (s.object_type === 'project_logs' && s.object_name) return s.object_name;
      } catch {
        /* not a spec */
      }
    }
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && e.name !== 'data') stack.push(join(d, e.name));
  }
  return undefined;
}

/** Polls the status query and prints changes; answers gates on a TTY in interactive mode. */
async function follow(
  client: Client,
  handle: WorkflowHandle,
  globals: GlobalOptions,
  interactive: boolean,
  resultPromise: Promise<FlywheelResult>,
  interrupted: () => boolean,
): Promise<void> {
  let done = false;
  void resultPromise.finally(() => (done = true)).catch(() => undefined);
  let last = '';
  let announcedGate = '';
  const tty = process.stderr.isTTY && !globals.json;
  while (!done && !interrupted()) {
    // The same report and progress line as `flywheel watch` (phase, iteration, activity, gate, heartbeats).
    const r = await report(client, handle.workflowId).catch(() => null);
    const s = r?.live ?? null;
    if (r && s) {
      const line = progressLine(r);
      if (line !== last) {
        if (!globals.json) process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
        last = line;
      }
      if (s.pendingGate && s.pendingGate.id !== announcedGate) {
        announcedGate = s.pendingGate.id;
        if (tty) process.stderr.write('\n');
        await onGate(handle, s, interactive && process.stdin.isTTY === true && !globals.json);
      }
    }
    await Promise.race([resultPromise.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  if (tty) process.stderr.write('\n');
}

async function onGate(handle: WorkflowHandle, s: FlywheelStatus, ask: boolean): Promise<void> {
  const g = s.pendingGate!;
  process.stderr.write(`\n${g.title}\n${g.detail}\n\n`);
  if (!ask) {
    process.stderr.write(`Answer from anywhere before ${g.timeoutAt}:\n${answerHints(handle.workflowId, g).map((h) => `  ${h}`).join('\n')}\n`);
    return;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const by = actorName();
    const actor = { by, gateId: g.id };
    if (g.kind === 'apply') {
      const a = (await rl.question('Applied the change? [a]pplied / [c]ontinue without it / [n]o (reject) / [s]top: ')).trim().toLowerCase();
      if (a === '' || a.startsWith('a')) await handle.signal(appliedSignal, actor);
      else if (a.startsWith('c')) await handle.signal(approveSignal, actor);
      else if (a.startsWith('s')) await handle.signal(stopSignal, actor);
      else await handle.signal(rejectSignal, actor);
      return;
    }
    const numbered = g.kind === 'plan' && g.options.length > 1;
    if (numbered) process.stderr.write(g.options.map((o, i) => `  ${i + 1}. ${o}`).join('\n') + '\n');
    const prompt = numbered
      ? 'Approve? [y]es / step numbers to approve only those (e.g. 1,3) / [n]o (reject) / [s]top: '
      : g.kind === 'route'
        ? `Go on? [y]es / an artifact to route to instead (${g.options.join(', ')}) / [n]o (reject) / [s]top: `
        : 'Approve? [y]es / [n]o (reject) / [s]top: ';
    const answer = (await rl.question(prompt)).trim().toLowerCase();
    if (numbered && /^\d+(\s*,\s*\d+)*$/.test(answer)) {
      const subset = answer.split(',').map((n) => g.options[Number(n.trim()) - 1]).filter((o): o is string => o !== undefined);
      await handle.signal(approveSignal, { ...actor, subset });
    } else if (g.kind === 'route' && g.options.includes(answer)) await handle.signal(overrideSignal, { ...actor, route: answer });
    else if (answer === '' || answer.startsWith('y')) await handle.signal(approveSignal, actor);
    else if (answer.startsWith('s')) await handle.signal(stopSignal, actor);
    else await handle.signal(rejectSignal, actor);
  } finally {
    rl.close();
  }
}

/** Checks what a user can get wrong before a workflow is started for it: the project must exist. */
async function preflight(input: FlywheelInput, btEnv: Record<string, string>): Promise<void> {
  if (!input.project) return;
  const { BtClient } = await import('../bt/client.js');
  const { isBtError } = await import('../bt/errors.js');
  let projects: { name: string; id: string }[];
  try {
    projects = await new BtClient({ env: btEnv, cwd: input.agentDir }).projectsList();
  } catch (err) {
    if (isBtError(err)) throw new CliError(err.message);
    throw err;
  }
  if (!projects.some((p) => p.name === input.project || p.id === input.project)) {
    const names = projects.map((p) => p.name).slice(0, 10).join(', ') || '(none)';
    throw new CliError(`Braintrust project '${input.project}' not found; projects visible to this key: ${names}`, EXIT_CODES.usage);
  }
}

/**
 * The eval environment, checked before anything starts: every --env-file exists and parses, the agent
 * directory's .env (if any) parses, and — when the worker runs in this process, so its environment is ours —
 * every --eval-env name is set. Values are read and dropped here; the worker reads them again for each eval.
 */
export function checkEvalEnv(input: FlywheelInput, inProcessWorker: boolean, env: NodeJS.ProcessEnv = process.env): void {
  const spec = evalEnvSpec(input);
  try {
    resolveEvalEnv(inProcessWorker ? spec : { ...spec, passNames: [] }, env, FORWARDED_ENV_KEYS);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_CODES.usage);
  }
}

/** The worker's own INFO logs (webpack, state changes) would drown the progress display: warnings only. */
function quietRuntime(globals: GlobalOptions): void {
  try {
    Runtime.install({ logger: new DefaultLogger(globals.verbose ? 'INFO' : 'WARN') });
  } catch {
    /* already installed (a second run in the same process) */
  }
}

export function exitCodeFor(outcome: string | undefined): number {
  return outcome && outcome in EXIT_CODES ? EXIT_CODES[outcome as keyof typeof EXIT_CODES] : EXIT_CODES.error;
}

export async function runCommand(opts: RunOptions, globals: GlobalOptions): Promise<number> {
  const log = (m: string) => {
    if (!globals.json) process.stderr.write(`${m}\n`);
  };
  const home = homeOf(globals);
  // Braintrust first: the example and --snapshot need the local server seeded before the run starts.
  // Validate the options before starting anything, so bad input costs one line and no side effects.
  checkEvalEnv((await buildRunRequest(opts, globals)).input, opts.worker !== false);
  const bt = await braintrustEnv(globals);
  if (opts.example) {
    if (!bt.embedded) throw new CliError('--example runs on the local Braintrust server; unset BRAINTRUST_API_KEY to use it', EXIT_CODES.usage);
    await prepareExample(home, { appUrl: bt.appUrl, apiKey: bt.btEnv.BRAINTRUST_API_KEY! }, log);
  }
  if (opts.snapshot) {
    if (!bt.embedded) throw new CliError('--snapshot analyses a pulled snapshot on the local server; unset BRAINTRUST_API_KEY to use it', EXIT_CODES.usage);
    opts.project = await prepareSnapshot({ appUrl: bt.appUrl, apiKey: bt.btEnv.BRAINTRUST_API_KEY! }, opts.snapshot, opts.project, log);
  }
  const { workflowId, input } = await buildRunRequest(opts, globals);
  await preflight(input, bt.btEnv);
  if (bt.embedded) log(`Braintrust: local server at ${bt.appUrl} (data under ${home})`);
  const target = await temporalTarget(globals, log);
  if (target.embedded && target.uiUrl) log(`Temporal: dev server at ${target.address} — Web UI ${target.uiUrl}/namespaces/${target.namespace}/workflows/${workflowId}`);
  const { connectClient } = await import('../temporal/connection.js');
  const client: Client = await connectClient(target);
  try {
    const handle = await client.workflow.start('flywheelWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    log(`flywheel run ${workflowId} (${input.mode}, ${input.modeReason}) started — goal: ${input.goal}`);
    if (opts.detach) {
      output(globals, { workflowId, runId: handle.firstExecutionRunId }, workflowId);
      return 0;
    }
    const result = handle.result() as Promise<FlywheelResult>;
    // Ctrl-C stops following (and this process's worker), not the run: it goes on in Temporal.
    let interruptedBy: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => (interruptedBy ??= sig);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const interrupted = () => interruptedBy !== null;
    const resumeHint = () =>
      new CliError(
        `interrupted: run ${workflowId} goes on in Temporal without this process. Follow it with \`flywheel watch ${workflowId}\`; ` +
          `it needs a worker (\`flywheel worker\`, or \`flywheel run\` again with --workflow-id ${workflowId}); cancel it with \`flywheel stop ${workflowId} --cancel\`.`,
        130,
      );
    let final: FlywheelResult;
    try {
      if (opts.worker === false) {
        await follow(client, handle, globals, input.mode === 'interactive', result, interrupted);
        if (interrupted()) throw resumeHint();
        final = await result;
      } else {
        quietRuntime(globals);
        const connection = await connectWorkerConnection(target);
        try {
          const worker = await createWorker({ connection, namespace: target.namespace, activities: createActivities({ btEnv: bt.btEnv, appUrl: bt.appUrl }) });
          final = await worker.runUntil(async () => {
            await follow(client, handle, globals, input.mode === 'interactive', result, interrupted);
            if (interrupted()) throw resumeHint();
            return result;
          });
        } catch (err) {
          if (interrupted()) throw resumeHint();
          throw err;
        } finally {
          await connection.close();
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    output(globals, { workflowId, runId: handle.firstExecutionRunId, ...final }, () =>
      [
        `outcome: ${final.outcome} after ${final.iterations} iteration(s)${final.error ? ` — ${final.error}` : ''}`,
        `summary:   ${final.summaryPath}`,
        `narrative: ${final.narrativePath}`,
      ].join('\n'),
    );
    return exitCodeFor(final.outcome);
  } finally {
    await client.connection.close();
  }
}

export function registerRunCommand(program: Command): Command {
  return program
    .command('run')
    .summary('start a flywheel run and follow it until the handoff is written')
    .description(
      'Start a flywheel run and follow it until the handoff is written. Runs a worker in-process on the embedded ' +
        'defaults unless --no-worker. Exit codes: healthy 0, improved 10, needs_work 11, blocked 12, ' +
        'no_convergence 13, error 1, usage 2.',
    )
    .option('--project <name>', 'Braintrust project name (else .bt/config.json, AGENTS.md, or the only project)')
    .option('--goal <text>', 'what to improve (env FLYWHEEL_GOAL; default "general health check")')
    .addOption(new Option('--mode <mode>', 'autonomous suppresses gates (default: autonomous when CI=true or FLYWHEEL_AUTONOMOUS=true)').choices(['autonomous', 'interactive']))
    .option('--baseline <experiment>', 'baseline experiment id or name (env FLYWHEEL_BASELINE_EXPERIMENT; default the newest one the flywheel did not create)')
    .option('--window <days>', 'discover window in days (default 7; widened to 30 for low traffic)')
    .option('--eval-file <path...>', 'eval files relative to the agent directory (default: found automatically)')
    .option('--agent-dir <dir>', "the agent's repository (default: the current directory)")
    .option('--change-command <cmd>', 'change agent: a command run in the agent directory with the brief on stdin')
    .option('--no-change-agent', 'do not run a change agent (code routes end as briefs in the handoff)')
    .option('--labeler <cmd>', 'labeler: reads rows as JSON on stdin, prints [{id, expected}]')
    .option('--gate-timeout <duration>', 'how long an interactive gate waits (default 24h)')
    .option('--out <dir>', 'where bt-flywheel-summary.json and bt-flywheel-narrative.md go (default: the current directory)')
    .option('--workflow-id <id>', 'default flywheel-<project>-<date>: a second trigger the same day joins the running one')
    .option('--dataset <name>', 'dataset the flywheel curates into (default flywheel-<project>)')
    .option('--max-iterations <n>', 'loop limit (default 3)')
    .option('--env-file <path>', 'a .env-format file loaded for `bt eval` (repeatable; later files win; default: .env in the agent directory)', collect)
    .option('--eval-env <name>', "pass this variable of the worker's environment to `bt eval` (repeatable)", collect)
    .option('--no-dotenv', "do not load the agent directory's .env for `bt eval`")
    .option('--example', 'run on the bundled example project (seeded local data, scripted change agent)')
    .option('--snapshot <dir>', 'analyse a `bt sync pull` output directory on the local server (no credentials needed)')
    .option('--detach', 'start the run and print its workflow id without waiting')
    .option('--no-worker', 'do not run a worker in this process (use `flywheel worker` elsewhere)')
    .action(async (opts: RunOptions, cmd: Command) => {
      process.exitCode = await runCommand(opts, globalsOf(cmd));
    });
}
