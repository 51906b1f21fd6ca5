/**
 * `flywheel run`: start a flywheel (or join today's run for the project), by default with an in-process
 * worker on the embedded defaults, showing live progress until the handoff is written.
 */
import { termSafe } from '../untrusted.js';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { WorkflowIdConflictPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { Command, Option } from 'commander';
import { createActivities } from '../activities/index.js';
import { packageRoot } from '../paths.js';
import { TASK_QUEUE } from '../shared.js';
import { connectWorkerConnection } from '../temporal/connection.js';
import { createWorker, hostQueuesFor, runQueueFor } from '../worker.js';
import { runResult } from '../run-result.js';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FlywheelGoalKey, FlywheelModeKey, FlywheelProjectKey, stopSignal, type FlywheelStatus } from '../workflows/definitions.js';
import type { FlywheelResult } from '../workflows/flywheel.js';
import { flywheelInputSchema, type FlywheelInput } from '../../schemas/flywheel-input.js';
import { FORWARDED_ENV_KEYS } from '../bt/run.js';
import { argvReferences, missingNames } from '../child-env.js';
import { checkPassName, evalEnvSpec, resolveEvalEnv } from '../eval-env.js';
import { secretArgIndexes } from '../workflows/logic/redact.js';
import { answerGate, answerHints } from './gates.js';
import { listQuery, progressLine, queueHasPollers, report } from './report.js';
import {
  actorName,
  braintrustEnv,
  CliError,
  EXIT_CODES,
  exitCodeFor,
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
  retryWindow?: string;
  evalConcurrency?: string;
  out?: string;
  workflowId?: string;
  dataset?: string;
  maxIterations?: string;
  /** `--example` alone is true (the TypeScript support agent); `--example python` picks the Python one. */
  example?: boolean | string;
  snapshot?: string;
  detach?: boolean;
  worker?: boolean;
  /** --task-queue: the queue of the `flywheel worker`s that execute a --no-worker run. */
  taskQueue?: string;
  /** --allow-concurrent: start even when the project has a run in progress (default: join that run). */
  allowConcurrent?: boolean;
  /** --env-file (repeatable). */
  envFile?: string[];
  /** --eval-env (repeatable). */
  evalEnv?: string[];
  /** --agent-env (repeatable). */
  agentEnv?: string[];
  /** commander sets this to false for --no-dotenv. */
  dotenv?: boolean;
}

const asList = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/** Repeatable option collector (undefined until given, so a flag can replace the config file's list). */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export const EXAMPLE_PROJECT = 'support-agent';
export const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');
export const PYTHON_EXAMPLE_PROJECT = 'travel-agent';
export const PYTHON_EXAMPLE_DIR = join(packageRoot, 'examples', 'travel-agent');

/** The bundled examples `run --example [name]` runs (each with its own project, seed marker and handoff dir). */
export interface ExampleSpec {
  name: 'support' | 'python';
  project: string;
  dir: string;
  /** Under --home: the handoff directory, the generated sync dir and the seeded marker. */
  outDir: string;
  syncDir: string;
  marker: string;
}

const EXAMPLES: Record<ExampleSpec['name'], Omit<ExampleSpec, 'name'>> = {
  support: { project: EXAMPLE_PROJECT, dir: EXAMPLE_DIR, outDir: 'example-out', syncDir: 'example-sync', marker: 'example-seeded.json' },
  python: { project: PYTHON_EXAMPLE_PROJECT, dir: PYTHON_EXAMPLE_DIR, outDir: 'example-python-out', syncDir: 'example-python-sync', marker: 'example-python-seeded.json' },
};
const EXAMPLE_ALIASES: Record<string, ExampleSpec['name']> = {
  support: 'support', 'support-agent': 'support', ts: 'support', typescript: 'support',
  python: 'python', py: 'python', travel: 'python', 'travel-agent': 'python',
};

/** `--example` (true) is the TypeScript support agent; `--example python` the Python travel agent. */
export function exampleSpec(value: boolean | string | undefined): ExampleSpec | undefined {
  if (value === undefined || value === false) return undefined;
  const key = value === true ? 'support' : EXAMPLE_ALIASES[value.trim().toLowerCase()];
  if (!key) throw new CliError(`unknown --example '${String(value)}'; choose support (the default) or python`, EXIT_CODES.usage);
  return { name: key, ...EXAMPLES[key] };
}

/** The Python the Python example runs with: .tools/py (scripts/setup.sh puts the braintrust SDK there), else python3. */
export function examplePythonBin(): string {
  const bundled = join(packageRoot, '.tools', 'py', 'bin', 'python');
  return existsSync(bundled) ? bundled : 'python3';
}

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

/** Longest --goal accepted: it goes into history, the brief and the handoff. */
export const MAX_GOAL_CHARS = 2000;
/** Longest project name accepted (Braintrust names are short; this bounds what goes into ids and paths). */
export const MAX_PROJECT_CHARS = 256;
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Flags that can be judged on their own, before any file is read or server started. */
function checkRunFlags(opts: RunOptions): void {
  const text = (flag: string, v: string | undefined, max: number) => {
    if (v === undefined) return;
    if (!v.trim()) throw new CliError(`${flag} is empty; leave it out to use the default`, EXIT_CODES.usage);
    if (v.length > max) throw new CliError(`${flag} is ${v.length} characters; at most ${max}`, EXIT_CODES.usage);
    if (CONTROL_CHARS.test(v)) throw new CliError(`${flag} contains control characters (newlines, escapes); pass plain text`, EXIT_CODES.usage);
  };
  text('--project', opts.project, MAX_PROJECT_CHARS);
  text('--goal', opts.goal, MAX_GOAL_CHARS);
  text('--change-command', opts.changeCommand, 8192);
  text('--labeler', opts.labeler, 8192);
  text('--dataset', opts.dataset, MAX_PROJECT_CHARS);
  text('--baseline', opts.baseline, MAX_PROJECT_CHARS);
  if (opts.maxIterations !== undefined && !/^\d+$/.test(opts.maxIterations)) throw new CliError(`--max-iterations must be a whole number from 1 to 10 (got '${opts.maxIterations}')`, EXIT_CODES.usage);
  if (opts.gateTimeout !== undefined && !/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(opts.gateTimeout.trim())) {
    throw new CliError(`--gate-timeout must be a duration such as 30m, 24h or 2d (got '${opts.gateTimeout}')`, EXIT_CODES.usage);
  }
  if (opts.retryWindow !== undefined && !/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(opts.retryWindow.trim())) {
    throw new CliError(`--retry-window must be a duration such as 30m or 2h (got '${opts.retryWindow}')`, EXIT_CODES.usage);
  }
  if (opts.evalConcurrency !== undefined && !/^[1-4]$/.test(opts.evalConcurrency.trim())) {
    throw new CliError(`--eval-concurrency must be a whole number from 1 to 4 (got '${opts.evalConcurrency}')`, EXIT_CODES.usage);
  }
}

/**
 * Workflow ids name run directories (`runs/<id>/…`) and schedules: letters, digits and `._:-`, not starting
 * with a dot, at most 200 characters — so `..`, `a/b` or a newline can never leave the runs directory.
 */
export function checkWorkflowId(id: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._:-]{0,199}$/.test(id)) {
    throw new CliError(`--workflow-id ${JSON.stringify(id).slice(0, 80)} is not a valid id: use letters, digits and . _ : - (not starting with a dot), at most 200 characters`, EXIT_CODES.usage);
  }
}

/** The run's workflow id and validated input, from flags > env > config file > defaults. */
export async function buildRunRequest(opts: RunOptions, globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<{ workflowId: string; input: FlywheelInput }> {
  const cfg = loadConfigFile(globals, env);
  const home = homeOf(globals, env);
  const ex = exampleSpec(opts.example);
  const example = ex !== undefined;
  const { mode, reason } = resolveMode(opts.mode ?? (example && !opts.mode ? 'autonomous' : undefined), cfg.mode, env);
  checkRunFlags(opts);
  const agentDir = resolve(opts.agentDir ?? (ex ? ex.dir : (cfg.agentDir ?? process.cwd())));
  if (!existsSync(agentDir)) throw new CliError(`--agent-dir ${agentDir} does not exist`, EXIT_CODES.usage);
  if (!statSync(agentDir).isDirectory()) throw new CliError(`--agent-dir ${agentDir} is a file; pass the agent's repository directory`, EXIT_CODES.usage);
  const project = opts.project ?? (ex ? ex.project : cfg.project);
  let changeCommand: string[] | undefined = opts.changeCommand !== undefined ? splitCommand(opts.changeCommand) : cfg.changeCommand;
  if (ex && opts.changeCommand === undefined) {
    changeCommand = ex.name === 'python' ? [examplePythonBin(), join(ex.dir, 'change_agent.py')] : [process.execPath, join(ex.dir, 'change-agent.mjs')];
  }
  if (opts.changeAgent === false) changeCommand = undefined;
  let labeler: string[] | undefined = opts.labeler !== undefined ? splitCommand(opts.labeler) : cfg.labeler;
  if (ex && opts.labeler === undefined) {
    labeler = ex.name === 'python' ? [examplePythonBin(), join(ex.dir, 'labeler.py')] : [join(packageRoot, 'node_modules', '.bin', 'tsx'), join(ex.dir, 'labeler.ts')];
  }
  const windowDays = opts.window !== undefined ? Number(opts.window) : cfg.windowDays;
  if (windowDays !== undefined && (!Number.isInteger(windowDays) || windowDays < 1)) {
    throw new CliError(`--window must be a whole number of days (got '${opts.window}')`, EXIT_CODES.usage);
  }
  const maxIterations = opts.maxIterations !== undefined ? Number(opts.maxIterations) : undefined;
  const workflowId = opts.workflowId ?? defaultWorkflowId(project ?? basename(agentDir));
  const outDir = resolve(opts.out ?? cfg.outDir ?? (ex ? join(home, ex.outDir) : process.cwd()));
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new CliError(`--out ${outDir} is a file; the handoff needs a directory (it is created if missing)`, EXIT_CODES.usage);
  checkWorkflowId(workflowId);
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
    ...((opts.retryWindow ?? cfg.retryWindow) ? { retryWindow: opts.retryWindow ?? cfg.retryWindow } : {}),
    outDir,
    runsDir: join(home, 'runs'),
    ...((opts.dataset ?? cfg.datasetName) ? { datasetName: opts.dataset ?? cfg.datasetName } : {}),
    ...(maxIterations !== undefined ? { maxIterations } : {}),
    ...((opts.evalConcurrency ?? cfg.evalConcurrency) !== undefined ? { evalConcurrency: Number(opts.evalConcurrency ?? cfg.evalConcurrency) } : {}),
    // bt eval's extra environment: paths and names only (the worker reads the values when it runs the eval).
    dotenv: opts.dotenv === false ? false : (cfg.dotenv ?? true),
    envFiles: (opts.envFile ?? asList(cfg.envFile) ?? []).map((f) => resolve(f)),
    evalEnv: [...new Set(opts.evalEnv ?? asList(cfg.evalEnv) ?? [])],
    agentEnv: [...new Set(opts.agentEnv ?? asList(cfg.agentEnv) ?? [])],
  };
  // The same bounds for values that came from the environment or the config file.
  const goalFrom = opts.goal !== undefined ? '--goal' : env.FLYWHEEL_GOAL !== undefined ? 'FLYWHEEL_GOAL' : 'goal in the config file';
  const goal = input.goal ?? '';
  if (goal.length > MAX_GOAL_CHARS) throw new CliError(`${goalFrom} is ${goal.length} characters; at most ${MAX_GOAL_CHARS}`, EXIT_CODES.usage);
  if (CONTROL_CHARS.test(goal)) throw new CliError(`${goalFrom} contains control characters (newlines, escapes); pass plain text`, EXIT_CODES.usage);
  if (input.project !== undefined && (input.project.length > MAX_PROJECT_CHARS || CONTROL_CHARS.test(input.project))) {
    throw new CliError(`the project name from ${opts.project !== undefined ? '--project' : 'the config file'} is too long or contains control characters`, EXIT_CODES.usage);
  }
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

/**
 * Seeds the embedded Braintrust server with the example project's generated production traces (once). The
 * Python example also ships its team's hand-made dataset (seeded as a project dataset from the same sync
 * directory) and a `.env.example` with its fake LLM key: copied to `.env` when there is none, as a new
 * developer would, so `bt eval` gets the key the way the flywheel loads it for any agent.
 */
async function prepareExample(ex: ExampleSpec, agentDir: string, home: string, server: { appUrl: string; apiKey: string }, log: (m: string) => void): Promise<void> {
  const { seedLocalServer } = await import('../local-server/daemon.js');
  if (ex.name === 'python') {
    const envFile = join(agentDir, '.env');
    if (!existsSync(envFile) && existsSync(join(agentDir, '.env.example'))) {
      copyFileSync(join(agentDir, '.env.example'), envFile);
      log(`created ${envFile} from .env.example (the example LLM's key, for bt eval)`);
    }
  }
  const marker = join(home, ex.marker);
  if (existsSync(marker)) return;
  log(`generating the ${ex.project} example's production traces (30 days, seeded)…`);
  // The generators run the example agent itself (TypeScript under tsx; the Python one through its interpreter).
  const { execa } = await import('execa');
  const gen = await execa(join(packageRoot, 'node_modules', '.bin', 'tsx'), [join(ex.dir, 'generate-traces.ts'), '--out', join(home, ex.syncDir), '--project-name', ex.project], { stdin: 'ignore', reject: false });
  if (gen.exitCode !== 0) throw new CliError(`generating the example traces failed: ${String(gen.stderr).slice(-500)}`);
  const res = JSON.parse(String(gen.stdout).trim().split('\n').pop() ?? '{}') as { dir: string; spans: number; traces: number; datasetRows?: number };
  log(`seeding the local Braintrust server with ${res.traces} traces / ${res.spans} spans${res.datasetRows ? ` and a hand-made dataset of ${res.datasetRows} rows` : ''}…`);
  await seedLocalServer(server, res.dir, { projectName: ex.project });
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
        if (!globals.json) process.stderr.write(tty ? `\r\x1b[K${termSafe(line, 400)}` : `${termSafe(line)}\n`);
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
  process.stderr.write(`\n${termSafe(g.title)}\n${termSafe(g.detail, 20_000)}\n\n`);
  if (!ask) {
    process.stderr.write(`Answer from anywhere before ${g.timeoutAt}:\n${answerHints(handle.workflowId, g).map((h) => `  ${h}`).join('\n')}\n`);
    return;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const by = actorName();
    const actor = { by, gateId: g.id };
    // Answers are Updates: a refusal (someone else answered first, the gate closed) is said, not lost.
    const send = async (kind: 'approve' | 'reject' | 'override' | 'skip' | 'applied', args: Parameters<typeof answerGate>[2]) => {
      try {
        await answerGate(handle, kind, args);
      } catch (err) {
        if (err instanceof CliError) process.stderr.write(`${termSafe(err.message, 400)}\n`);
        else throw err;
      }
    };
    if (g.kind === 'apply') {
      const a = (await rl.question('Applied the change? [a]pplied / [c]ontinue without it / [n]o (reject) / [s]top: ')).trim().toLowerCase();
      if (a === '' || a.startsWith('a')) await send('applied', actor);
      else if (a.startsWith('c')) await send('approve', actor);
      else if (a.startsWith('s')) await handle.signal(stopSignal, actor);
      else await send('reject', actor);
      return;
    }
    const numbered = g.kind === 'plan' && g.options.length > 1;
    if (numbered) process.stderr.write(g.options.map((o, i) => `  ${i + 1}. ${termSafe(o, 400)}`).join('\n') + '\n');
    const prompt = numbered
      ? 'Approve? [y]es / step numbers to approve only those (e.g. 1,3) / [n]o (reject) / [s]top: '
      : g.kind === 'route'
        ? `Go on? [y]es / an artifact to route to instead (${g.options.join(', ')}) / [n]o (reject) / [s]top: `
        : g.kind === 'write'
          ? 'Approve this write? [y]es / s[k]ip it and go on / [n]o (reject) / [s]top: '
          : 'Approve? [y]es / [n]o (reject) / [s]top: ';
    const answer = (await rl.question(prompt)).trim().toLowerCase();
    if (g.kind === 'write' && answer.startsWith('k')) {
      await send('skip', { ...actor, step: g.id });
      return;
    }
    if (numbered && /^\d+(\s*,\s*\d+)*$/.test(answer)) {
      const subset = answer.split(',').map((n) => g.options[Number(n.trim()) - 1]).filter((o): o is string => o !== undefined);
      await send('approve', { ...actor, subset });
    } else if (g.kind === 'route' && g.options.includes(answer)) await send('override', { ...actor, route: answer });
    else if (answer === '' || answer.startsWith('y')) await send('approve', actor);
    else if (answer.startsWith('s')) await handle.signal(stopSignal, actor);
    else await send('reject', actor);
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

/**
 * The change agent's and labeler's environment, checked before anything starts: when the worker runs in this
 * process, every --agent-env name and every $NAME the commands reference is set. A literal secret in a
 * command is shown redacted in the handoff but would stay in Temporal history: warn, and say how to avoid it.
 */
export function checkAgentEnv(input: FlywheelInput, inProcessWorker: boolean, env: NodeJS.ProcessEnv, warn: (m: string) => void): void {
  const commands = [
    ['--change-command', input.changeCommand],
    ['--labeler', input.labeler],
  ] as const;
  if (inProcessWorker) {
    const missing = missingNames(env, input.agentEnv ?? []);
    if (missing.length) throw new CliError(`--agent-env ${missing[0]} is not set in this environment (the change agent and labeler would not see it)`, EXIT_CODES.usage);
    for (const [flag, argv] of commands) {
      const unset = argv ? missingNames(env, argvReferences(argv)) : [];
      if (unset.length) throw new CliError(`${flag} references $${unset[0]}, which is not set in this environment`, EXIT_CODES.usage);
    }
  }
  for (const [flag, argv] of commands) {
    const idx = argv ? secretArgIndexes(argv) : [];
    if (idx.length) {
      warn(`warning: ${flag} holds what looks like a secret (argument ${idx[0]}): it is redacted in the handoff but stays in Temporal history; put it in a variable and write $NAME instead`);
    }
  }
}

/**
 * A cluster without the flywheel's search attributes would leave every run stuck at its first workflow task:
 * refuse to start, with the commands that register them (Temporal Cloud: the same names and types through
 * `tcld namespace search-attributes add` or the Cloud UI).
 */
export async function preflightSearchAttributes(client: Client, namespace: string): Promise<void> {
  const { missingSearchAttributeCommands } = await import('../temporal/devserver.js');
  const commands = await missingSearchAttributeCommands(client.connection as Parameters<typeof missingSearchAttributeCommands>[0], namespace);
  if (commands && commands.length) {
    throw new CliError(
      `namespace ${namespace} lacks ${commands.length} search attribute(s) the flywheel sets; register them first:\n  ${commands.join('\n  ')}\n` +
        '(Temporal Cloud: add the same names and types with `tcld namespace search-attributes add` or in the Cloud UI)',
      EXIT_CODES.usage,
    );
  }
}

/**
 * The id of a running flywheel run of the same project — the same name on the same Braintrust (its `braintrust` memo,
 * which `run` sets) — other than `workflowId`, if any. Runs without that memo (other tools) are not joined: a name
 * alone may be another organisation's project on a shared cluster.
 */
async function runningRunOf(client: Client, project: string, workflowId: string, braintrust: string): Promise<string | null> {
  const query = `${listQuery({ project, status: 'running' })} AND WorkflowId != '${workflowId.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  let seen = 0;
  for await (const w of client.workflow.list({ query, pageSize: 50 })) {
    if ((w.memo as { braintrust?: unknown } | undefined)?.braintrust === braintrust) return w.workflowId;
    if (++seen >= 200) break;
  }
  return null;
}

/** The worker's own INFO logs (webpack, state changes) would drown the progress display: warnings only. */
function quietRuntime(globals: GlobalOptions): void {
  try {
    Runtime.install({ logger: globals.verbose ? new DefaultLogger('INFO') : new DefaultLogger('WARN', (entry) => process.stderr.write(`${oneLineLog(entry)}\n`)) });
  } catch {
    /* already installed (a second run in the same process) */
  }
}

/**
 * A worker log entry as one line, without stack traces or the whole failure object (those are for
 * --verbose): "[WARN] Activity failed: runEval: <message>". Trace-derived text in messages is stripped of
 * escape sequences.
 */
export function oneLineLog(entry: { level: string; message: string; meta?: Record<string, unknown> }): string {
  const meta = entry.meta ?? {};
  const err = meta.error as { message?: unknown } | undefined;
  const what = [meta.activityType, meta.workflowType].find((x) => typeof x === 'string');
  const reason = err && typeof err.message === 'string' ? err.message.split('\n')[0] : '';
  return termSafe(`[${entry.level}] ${entry.message}${what ? `: ${String(what)}` : ''}${reason ? `: ${reason}` : ''}`, 500).replace(/\n/g, ' ');
}

export async function runCommand(opts: RunOptions, globals: GlobalOptions): Promise<number> {
  const log = (m: string) => {
    if (!globals.json) process.stderr.write(`${m}\n`);
  };
  const home = homeOf(globals);
  // Braintrust first: the example and --snapshot need the local server seeded before the run starts.
  // Validate the options before starting anything, so bad input costs one line and no side effects.
  if (opts.taskQueue !== undefined) {
    if (opts.worker !== false) throw new CliError('--task-queue needs --no-worker: a run with a worker in this process uses its own private queue', EXIT_CODES.usage);
    if (!opts.taskQueue.trim() || opts.taskQueue.length > 200) throw new CliError('--task-queue must be a queue name of 1 to 200 characters', EXIT_CODES.usage);
  }
  const request = await buildRunRequest(opts, globals);
  checkEvalEnv(request.input, opts.worker !== false);
  checkAgentEnv(request.input, opts.worker !== false, process.env, log);
  const bt = await braintrustEnv(globals);
  const ex = exampleSpec(opts.example);
  if (ex) {
    if (!bt.embedded) throw new CliError('--example runs on the local Braintrust server; unset BRAINTRUST_API_KEY to use it', EXIT_CODES.usage);
    await prepareExample(ex, resolve(opts.agentDir ?? ex.dir), home, { appUrl: bt.appUrl, apiKey: bt.btEnv.BRAINTRUST_API_KEY! }, log);
    // bt eval runs Python evals with the first python on PATH: the example's is the one with the braintrust SDK.
    const pyBin = join(packageRoot, '.tools', 'py', 'bin');
    if (ex.name === 'python' && existsSync(pyBin)) bt.btEnv.PATH = `${pyBin}:${bt.btEnv.PATH ?? process.env.PATH ?? ''}`;
  }
  if (opts.snapshot) {
    if (!bt.embedded) throw new CliError('--snapshot analyses a pulled snapshot on the local server; unset BRAINTRUST_API_KEY to use it', EXIT_CODES.usage);
    opts.project = await prepareSnapshot({ appUrl: bt.appUrl, apiKey: bt.btEnv.BRAINTRUST_API_KEY! }, opts.snapshot, opts.project, log);
  }
  const built = await buildRunRequest(opts, globals);
  const { input } = built;
  let workflowId = built.workflowId;
  await preflight(input, bt.btEnv);
  if (bt.embedded) log(`Braintrust: local server at ${bt.appUrl} (data under ${home})`);
  const target = await temporalTarget(globals, log);
  if (target.embedded && target.uiUrl) log(`Temporal: dev server at ${target.address} — Web UI ${target.uiUrl}/namespaces/${target.namespace}/workflows/${workflowId}`);
  const { connectClient } = await import('../temporal/connection.js');
  const client: Client = await connectClient(target);
  try {
    if (!target.embedded) await preflightSearchAttributes(client, target.namespace);
    // One run per project at a time: a second trigger for a project with a run in progress joins that run.
    if (input.project && !opts.allowConcurrent) {
      const other = await runningRunOf(client, input.project, workflowId, bt.appUrl);
      if (other) {
        log(`project ${termSafe(input.project, 200)} already has run ${termSafe(other, 200)} in progress: joining it instead of starting a second one (--allow-concurrent starts another)`);
        workflowId = other;
      }
    }
    // Host affinity: with a worker in this process the run lives on this invocation's private queue (workflow and
    // activities), so no other process executes it; with --no-worker the first `flywheel worker` to answer claims it.
    let inProcess = opts.worker !== false;
    const taskQueue = inProcess ? runQueueFor(home, workflowId) : (opts.taskQueue ?? TASK_QUEUE);
    let hostQueues: FlywheelInput['hostQueues'] = inProcess ? { host: taskQueue, heavy: taskQueue } : undefined;
    if (!inProcess) {
      // This machine's `flywheel worker` (same --home) holds these files: pin the run to it when it is polling.
      const mine = hostQueuesFor(taskQueue, home);
      if (await queueHasPollers(client, mine.host)) {
        hostQueues = mine;
        log(`the run is pinned to this machine's worker (task queue "${mine.host}")`);
      } else {
        log(`no \`flywheel worker\` with this --home is polling on this machine: the first worker on task queue "${termSafe(taskQueue, 200)}" takes the run, and it must see ${input.agentDir}`);
      }
    }
    const startInput: FlywheelInput = hostQueues ? { ...input, hostQueues } : input;
    const handle = await client.workflow.start('flywheelWorkflow', {
      taskQueue,
      workflowId,
      args: [startInput],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // Which Braintrust the run's project lives on: one run per project means per project of one Braintrust.
      memo: { braintrust: bt.appUrl },
      // Set at start (not only by the first workflow task), so `list` and the one-run-per-project check see it at once.
      typedSearchAttributes: [
        ...(input.project ? [{ key: FlywheelProjectKey, value: input.project }] : []),
        { key: FlywheelGoalKey, value: input.goal ?? 'general health check' },
        { key: FlywheelModeKey, value: input.mode ?? 'interactive' },
      ],
    });
    const running = await handle.describe();
    if (inProcess && running.taskQueue !== taskQueue) {
      // A run with this id was started elsewhere (another machine or home, --no-worker, a schedule): join it, and
      // leave its execution to the workers that serve its queue.
      inProcess = false;
      log(`run ${workflowId} is already running on task queue "${termSafe(running.taskQueue, 200)}" (started elsewhere): following it; its own workers execute it`);
    }
    if (workflowId === built.workflowId) log(`flywheel run ${workflowId} (${input.mode}, ${input.modeReason}) started — goal: ${input.goal}`);
    else log(`following run ${workflowId} of project ${termSafe(input.project ?? '', 200)}`);
    if (opts.detach) {
      output(globals, { workflowId, runId: handle.firstExecutionRunId }, workflowId);
      return 0;
    }
    const result = runResult(handle);
    // Ctrl-C stops following (and this process's worker), not the run: it goes on in Temporal.
    let interruptedBy: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => (interruptedBy ??= sig);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const interrupted = () => interruptedBy !== null;
    const resumeHint = () =>
      new CliError(
        `interrupted: run ${workflowId} goes on in Temporal without this process. Follow it with \`flywheel watch ${workflowId}\`; ` +
          `it needs a worker (${inProcess ? `\`flywheel run\` again with the same --home and --workflow-id ${workflowId}, or \`flywheel worker --task-queue ${taskQueue}\`` : `\`flywheel worker\``}); cancel it with \`flywheel stop ${workflowId} --cancel\`.`,
        130,
      );
    let final: FlywheelResult;
    try {
      if (!inProcess) {
        await follow(client, handle, globals, input.mode === 'interactive', result, interrupted);
        if (interrupted()) throw resumeHint();
        final = await result;
      } else {
        quietRuntime(globals);
        const connection = await connectWorkerConnection(target);
        try {
          const worker = await createWorker({ connection, namespace: target.namespace, taskQueue, activities: createActivities({ btEnv: bt.btEnv, appUrl: bt.appUrl }) });
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
    .option('--retry-window <duration>', 'how long transient failures (Braintrust or network down, 5xx, 429) are retried before the run gives up (default 30m)')
    .option('--out <dir>', 'where bt-flywheel-summary.json and bt-flywheel-narrative.md go (default: the current directory)')
    .option('--workflow-id <id>', 'default flywheel-<project>-<date>: a second trigger the same day joins the running one')
    .option('--dataset <name>', 'dataset the flywheel curates into (default flywheel-<project>)')
    .option('--max-iterations <n>', 'loop limit (default 3)')
    .option('--eval-concurrency <n>', "paired evals run at once (train and validation; 1-4, default 2): each runs the agent, so 2 doubles its calls to the LLM provider — 1 for tight rate limits")
    .option('--env-file <path>', 'a .env-format file loaded for `bt eval` (repeatable; later files win; default: .env in the agent directory)', collect)
    .option('--eval-env <name>', "pass this variable of the worker's environment to `bt eval` (repeatable)", collect)
    .option('--no-dotenv', "do not load the agent directory's .env for `bt eval`")
    .option(
      '--agent-env <name>',
      "let the change agent and the labeler see this variable of the worker's environment (repeatable; they get PATH, HOME, locale and the brief variables, nothing else — reference secrets in the commands as $NAME)",
      collect,
    )
    .option('--example [name]', 'run on a bundled example project (seeded local data, scripted change agent): support (default, TypeScript) or python')
    .option('--snapshot <dir>', 'analyse a `bt sync pull` output directory on the local server (no credentials needed)')
    .option('--allow-concurrent', 'start a run even when the project already has one in progress (default: join that run)')
    .option('--detach', 'start the run and print its workflow id without waiting')
    .option('--no-worker', 'do not run a worker in this process (use `flywheel worker` elsewhere)')
    .option('--task-queue <queue>', `with --no-worker: the task queue of the \`flywheel worker\`s that execute the run (default "${TASK_QUEUE}")`)
    .action(async (opts: RunOptions, cmd: Command) => {
      process.exitCode = await runCommand(opts, globalsOf(cmd));
    });
}
