/**
 * The activities factory: dependencies (how to reach bt and Braintrust) are injected here; the worker only
 * wires. Every activity does its side effects, writes bulky data to the run directory and returns a small
 * typed summary. bt failures become ApplicationFailures whose retryability was decided where they arose.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { BtClient, btEnvFrom, FORWARDED_ENV_KEYS, toActivityFailure } from '../bt/index.js';
import { boundedInOrder } from './concurrent.js';
import { EvalEnvError, evalEnvSpec, redactValues, resolveEvalEnv, type EvalEnvSpec } from '../eval-env.js';
import { buildSummary, renderNarrative, writeHandoff as writeHandoffFiles, type HandoffInput } from '../handoff/index.js';
import type { SummaryArtifact } from '../../schemas/summary.js';
import { packageRoot } from '../paths.js';
import type { FlywheelConfig } from '../../schemas/flywheel-input.js';
import type { ChangeArtifact, DiscoverEvidence, EvalResult, RowComparison } from '../workflows/logic/evidence.js';
import { diagnose, type RouteTarget } from '../workflows/logic/diagnose.js';
import { textDigest } from '../workflows/logic/digest.js';
import { numberQueries } from '../workflows/logic/query-table.js';
import { numbered, withQueryTexts } from './evidence-file.js';
import type { BriefRef, ChangeAgentResult, CurateResult, CurationPlan, DiagnosisRecipe, HandoffPaths, OrientContext, PrepareScorersResult, PushScorersResult, RevertResult, StoredRef } from '../workflows/types.js';
import { renderBrief, runChangeAgent as runChange } from './change-agent.js';
import { resolveBrief, type BriefSent } from './brief-ref.js';
import { curateDataset as curate, prepareCuration as prepareCurationRows, upsertCuration as upsertCurationRows, type CurateParams } from './curate.js';
import { clockFromEnv, type Clock } from '../clock.js';
import { discover as runDiscover } from './discover.js';
import { drillIntoRegressions, type DrilldownDoc } from './drilldown.js';
import { compareRuns as compare, loadBaseline as loadBase, runEval as runEvalCmd, type RunEvalParams } from './evals.js';
import { phaseDir, readChecked, readJson, writeFileAtomic, writeJsonAtomic, type FileRef } from './files.js';
import { orient as runOrient } from './orient.js';
import { writeFleetSummary } from './fleet.js';
import { DIFF_EXCERPT_CHARS, revertChangeFromBackup } from './workspace.js';
import { prepareScorers as locateScorers, pushScorerFiles } from './scorers.js';
import { checkScoreBehaviour as scoreBehaviour } from './score-behaviour.js';
import type { ScoreBehaviourEvidence } from '../workflows/logic/measurement.js';
import { verifyEvidence as computeVerifyEvidence, type VerifyEvidenceParams, type VerifyEvidenceResult } from './verify-evidence.js';
import { resolveStored, storeResult, type StoredFileError } from './stored.js';
import { endPreviousAttemptGroups, noteGroupsOfActivities, withGroups } from './attempt-groups.js';

export interface ActivityDeps {
  /** Environment for bt (BRAINTRUST_*, HOME, PATH…); default: picked from the worker's environment. */
  btEnv?: Record<string, string>;
  btPath?: string;
  /** Base of Braintrust UI links; default BRAINTRUST_APP_URL or https://www.braintrust.dev. */
  appUrl?: string;
  /** The clock Discover's windows end at; default FLYWHEEL_FAKE_NOW or the real clock (src/clock.ts). */
  clock?: Clock;
  /** The worker's environment for `--eval-env` names and for shadowing .env values; default process.env. */
  workerEnv?: Readonly<Record<string, string | undefined>>;
  /** Keep-alive heartbeat period of every activity (ms); default KEEPALIVE_HEARTBEAT_MS. */
  keepAliveMs?: number;
}

/** The last heartbeat detail of each running activity, re-sent by its keep-alive. */
const lastDetail = new WeakMap<Context, unknown>();

// Every process group an activity starts rides in its heartbeat details, so a retry can end it (attempt-groups.ts).
noteGroupsOfActivities((ctx) => ctx.heartbeat(withGroups(ctx, lastDetail.get(ctx))));

function heartbeatFn(): (detail?: unknown) => void {
  try {
    const ctx = Context.current();
    return (d?: unknown) => {
      lastDetail.set(ctx, d);
      ctx.heartbeat(withGroups(ctx, d));
    };
  } catch {
    return () => {};
  }
}

/**
 * How often every activity heartbeats, whatever it is doing (between bt calls, writing files): well inside the
 * proxies' heartbeatTimeout (40 s, src/workflows/proxies.ts), so a dead worker's activity is retried within about a
 * minute and a live one is never taken for dead. The SDK sends at most one heartbeat per 0.8 × heartbeatTimeout.
 */
export const KEEPALIVE_HEARTBEAT_MS = 10_000;

/**
 * What of an eval result stays in its stored file only: the per-row scores file is read by compareRuns, verifyEvidence
 * and the handoff, which are sent the reference; the workflow decides on the means and distributions.
 */
const EVAL_FILE_ONLY = ['rowsFile'] as const satisfies readonly (keyof EvalResult)[];

/** Activities that read the references in their input themselves (leniently: the handoff is always written). */
const RESOLVES_OWN_REFERENCES = new Set(['writeHandoff']);

/**
 * Wraps every activity so that references in its input are read back first (src/activities/stored.ts), so that a
 * retry first ends the process groups the previous attempt left running (attempt-groups.ts), and so that it
 * heartbeats (its last detail) every `everyMs` from start to finish.
 */
export function keepAlive<T extends Record<string, (...args: never[]) => Promise<unknown>>>(acts: T, everyMs: number): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts)) {
    out[name] = async (...sent: never[]) => {
      const args = (RESOLVES_OWN_REFERENCES.has(name) ? sent : await Promise.all(sent.map((a) => resolveStored(a)))) as never[];
      let ctx: Context;
      try {
        ctx = Context.current();
      } catch {
        return fn(...args); // called directly (tests), not as an activity
      }
      // A retry first ends what the previous attempt left running on this host (its detached process groups).
      await endPreviousAttemptGroups(ctx);
      const timer = setInterval(() => {
        try {
          ctx.heartbeat(withGroups(ctx, lastDetail.get(ctx)));
        } catch {
          /* a heartbeat failure must not fail the activity */
        }
      }, everyMs);
      try {
        return await fn(...args);
      } finally {
        clearInterval(timer);
      }
    };
  }
  return out as T;
}

function signal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` once per activity execution: a retry of the same activity (same workflow run and activity id,
 * e.g. its completion was lost with a worker) gets the recorded result instead of running an eval or the
 * change agent again. A reset starts a new workflow run, so it never reuses a result.
 */
/** This activity execution's identity (workflow run id / activity id), or null outside an activity. */
function executionKey(): string | null {
  try {
    const info = Context.current().info;
    return info.workflowExecution?.runId ? `${info.workflowExecution.runId}/${info.activityId}` : null;
  } catch {
    return null; // outside an activity (direct calls in tests)
  }
}

async function oncePerExecution<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const key = executionKey();
  if (key && existsSync(path)) {
    const cached = await readJson<{ key: string; result: T }>(path).catch(() => null);
    if (cached?.key === key) return cached.result;
  }
  const result = await fn();
  if (key) await writeJsonAtomic(path, { key, result });
  return result;
}

/** Wraps an activity so a BtError becomes an ApplicationFailure with the right retryability. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}

/** What runEval is asked (`cwd`: the working tree; `slim`: see runEval). */
type RunEvalInput = Omit<RunEvalParams, 'dir'> & { iteration: number; slim?: { distributions: boolean } };
/** What compareRuns is asked. */
interface CompareInput {
  baseline: EvalResult;
  next: EvalResult;
  tolerance: number;
  runDir: string;
  iteration: number;
}
/** What verifyEvidence is asked. */
type VerifyInput = Omit<VerifyEvidenceParams, 'dir'> & { runDir: string; iteration: number; agentDir: string };

/** What the curation activities are asked: one dataset route's targets in the evidence window. */
interface CurationParams {
  ctx: OrientContext;
  routeId: string;
  targets: RouteTarget[];
  windowDays: number;
  iteration: number;
  labeler?: string[];
  /** Worker variables the labeler may see (names; see src/child-env.ts). */
  agentEnv?: string[];
}

export function createActivities(deps: ActivityDeps = {}) {
  const clock = deps.clock ?? clockFromEnv(process.env);
  const baseEnv = deps.btEnv ?? btEnvFrom(process.env);
  // bt eval finds its TypeScript runner (tsx) on PATH: make the project's own copy available.
  const env: Record<string, string> = { ...baseEnv, PATH: [join(packageRoot, 'node_modules', '.bin'), baseEnv.PATH ?? process.env.PATH ?? ''].join(':') };
  const appUrl = deps.appUrl ?? env.BRAINTRUST_APP_URL ?? 'https://www.braintrust.dev';
  const bt = (extra: Record<string, string | undefined> = {}, cwd?: string, evalEnv: Record<string, string> = {}) => {
    const hb = heartbeatFn();
    const secrets = Object.keys(evalEnv).length > 0;
    // The eval environment sits beneath everything the flywheel sets (resolveEvalEnv already drops those names);
    // its values are removed from bt's output, so an eval printing one cannot put it into a heartbeat or an error.
    return new BtClient({
      btPath: deps.btPath,
      env: { ...evalEnv, ...env, ...extra },
      cwd,
      onHeartbeat: (d) => hb(d),
      ...(secrets ? { redact: (t: string) => redactValues(t, evalEnv) } : {}),
    });
  };
  const workerEnv = deps.workerEnv ?? process.env;
  /** A curation step (the labeler may run in it: heartbeats say so) in its route's phase directory. */
  const curation = <T>(p: CurationParams, step: (b: BtClient, q: CurateParams, s?: AbortSignal, hb?: () => void) => Promise<T>): Promise<T> => {
    const hb = heartbeatFn();
    const dir = phaseDir(p.ctx.runDir, '', p.iteration, `improve-${safe(p.routeId)}`);
    return guarded(() => step(bt({}, p.ctx.agentDir), { ...p, dir, workerEnv }, signal(), () => hb({ what: 'labeling' })));
  };
  // Names bt gets from the flywheel: a .env file never overrides them and --eval-env may not name them.
  const controlled = new Set<string>([...FORWARDED_ENV_KEYS, ...Object.keys(env), 'NO_COLOR']);
  /** Reads the eval environment on this worker, now; a missing file or unset name fails the run (not retryable). */
  const loadEvalEnv = (spec: EvalEnvSpec) => {
    try {
      return resolveEvalEnv(spec, workerEnv, controlled);
    } catch (err) {
      if (err instanceof EvalEnvError) throw ApplicationFailure.nonRetryable(`eval environment: ${err.message}`, 'EvalEnv');
      throw err;
    }
  };

  const evalOne = async (p: RunEvalInput): Promise<EvalResult> => {
    const extra = {
      FLYWHEEL_EVAL_SPLIT: p.split,
      FLYWHEEL_EXPERIMENT_NAME: p.experimentName,
      // Eval files put this into the experiment's metadata (`flywheel_run`), so Orient never takes the flywheel's
      // own experiments for the project's baseline (it also recognizes the flywheel's experiment names).
      FLYWHEEL_RUN_MODE: p.experimentName.match(/-i\d+-([a-z]+)-[^-]+$/)?.[1] ?? p.runMode,
      FLYWHEEL_EVAL_DATASET: p.useDataset ? p.ctx.datasetName : undefined,
      BRAINTRUST_DEFAULT_PROJECT: p.ctx.project.name,
    };
    const dir = phaseDir(p.ctx.runDir, '', p.iteration, 'verify');
    const result = await oncePerExecution(join(dir, `${p.runMode}-${p.split}-result.json`), async () => {
      // Read now, on this worker; only this bt eval (and the runner it starts) gets the values.
      const values = p.ctx.evalEnv ? loadEvalEnv(p.ctx.evalEnv.spec).values : {};
      const key = executionKey();
      return guarded(() => runEvalCmd(bt(extra, p.cwd, values), { ...p, dir, ...(key ? { checkpointKey: key } : {}) }, signal()));
    });
    // Also in the run directory: compareRuns and the handoff are sent a reference to it, not the result again.
    const fileOnly: (keyof EvalResult)[] = p.slim ? [...EVAL_FILE_ONLY, 'url', ...(p.slim.distributions ? [] : ['distributions' as const])] : [...EVAL_FILE_ONLY];
    return storeResult(join(dir, `${p.runMode}-${p.split}-eval.json`), 'eval', result, fileOnly) as Promise<EvalResult & { stored: StoredRef }>;
  };

  const compareOne = async (p: CompareInput): Promise<RowComparison> => {
    const dir = phaseDir(p.runDir, '', p.iteration, 'verify');
    const cmp = await compare(p.baseline, p.next, p.tolerance, dir);
    if (!cmp.regressions.length) return cmp;
    // The largest regressions, drilled into for the handoff. Best effort: the comparison stands without it.
    try {
      const file = await guarded(() => drillIntoRegressions(bt(), { baseline: p.baseline, next: p.next, comparison: cmp, dir }, signal()));
      return file ? { ...cmp, drilldown: file } : cmp;
    } catch (err) {
      if (signal()?.aborted) throw err;
      return { ...cmp, drilldownError: `the regressed rows could not be drilled into: ${((err as Error).message ?? String(err)).split('\n')[0]!.slice(0, 300)}` };
    }
  };

  const verifyOne = async (p: VerifyInput): Promise<VerifyEvidenceResult> => {
    const { runDir, iteration, agentDir, ...rest } = p;
    return guarded(() => computeVerifyEvidence(bt({}, agentDir), { ...rest, dir: phaseDir(runDir, '', iteration, 'verify') }, signal()));
  };

  return keepAlive({
    async orient(config: FlywheelConfig, workflowId: string, runId?: string): Promise<OrientContext> {
      // Checked first, on the worker that will run the evals: names and sources only go into the context.
      const spec = evalEnvSpec(config);
      const { record } = loadEvalEnv(spec);
      const ctx = await guarded(() =>
        runOrient(bt({}, config.agentDir), { config, workflowId, ...(runId ? { runId } : {}), appUrl, orgFallback: env.BRAINTRUST_ORG_NAME ?? null }),
      );
      const notes = record.ignored.map((i) => `${i.file} sets ${i.name}, which the flywheel sets for bt itself: ignored for bt eval.`);
      // Also in the run directory: later activities are sent a reference to it, not the context again.
      return storeResult(join(ctx.runDir, 'context.json'), 'context', { ...ctx, notes: [...ctx.notes, ...notes], evalEnv: { spec, ...record }, evalConcurrency: config.evalConcurrency ?? 1 });
    },

    /**
     * The evidence as written to the run directory, but with every query text replaced by its number (`queryNo`,
     * src/workflows/logic/query-table.ts): the workflow never reads the texts, and they were a third of this result in
     * history. The activities that need them read the file (src/activities/evidence-file.ts).
     */
    async discover(p: { ctx: OrientContext; goal: string; windowDays: number; iteration: number; datasetId?: string | null }): Promise<DiscoverEvidence> {
      const hb = heartbeatFn();
      const evidence = await guarded(() =>
        runDiscover(
          bt({}, p.ctx.agentDir),
          { ...p, dir: phaseDir(p.ctx.runDir, '', p.iteration, 'discover'), now: clock() },
          signal(),
          (what) => hb({ what }),
        ),
      );
      return numberQueries(evidence).numbered;
    },

    async curateDataset(p: CurationParams): Promise<CurateResult> {
      return curation(p, curate);
    },

    /**
     * Before a measurement change: where each targeted scorer lives; scorers that live only in Braintrust are pulled
     * (`bt functions view`) into working files in the agent directory (src/activities/scorers.ts).
     */
    async prepareScorers(p: { ctx: OrientContext; scores: string[]; windowDays: number; iteration: number }): Promise<PrepareScorersResult> {
      const res = await guarded(() =>
        locateScorers(bt({}, p.ctx.agentDir), { project: p.ctx.project, agentDir: p.ctx.agentDir, scores: p.scores, windowDays: p.windowDays }, signal()),
      );
      await writeJsonAtomic(join(phaseDir(p.ctx.runDir, '', p.iteration, 'improve-measurement'), 'scorers.json'), res);
      return res;
    },

    /** Score vs behaviour: errored or empty production answers each score rated, and how many it rated high. */
    async checkScoreBehaviour(p: { ctx: OrientContext; scores: string[]; windowDays: number }): Promise<ScoreBehaviourEvidence> {
      return guarded(() => scoreBehaviour(bt({}, p.ctx.agentDir), { projectId: p.ctx.project.id, scores: p.scores, windowDays: p.windowDays }, signal()));
    },

    /** After a measurement change: pushes its changed scorer files (`--if-exists replace`: a retry is harmless). */
    async pushScorers(p: { ctx: OrientContext; files: string[] }): Promise<PushScorersResult> {
      const cwd = p.ctx.agentDir;
      return guarded(() => pushScorerFiles(bt({}, cwd), { project: p.ctx.project.name, cwd, files: p.files }, signal()));
    },

    /**
     * Curation, step 1 (before the write gate): candidates pulled, deduped, labeled and split into the run directory;
     * nothing is written to Braintrust. The gate shows the counts and sample this returns.
     */
    async prepareCuration(p: CurationParams): Promise<CurationPlan> {
      return curation(p, prepareCurationRows);
    },

    /** Curation, step 2 (after the write gate approved it): the prepared rows upserted into the dataset. */
    async upsertCuration(p: { ctx: OrientContext; planFile: FileRef }): Promise<CurateResult> {
      // The cohorts the rows cover stay in the plan file (the workflow does not read them).
      const { cohorts: _cohorts, ...result } = await guarded(() => upsertCurationRows(bt({}, p.ctx.agentDir), p, signal()));
      return result;
    },

    async runChangeAgent(sent: { brief: BriefSent; command: string[]; timeoutMs: number; agentEnv?: string[]; scorerPush?: 'separate' }): Promise<ChangeAgentResult> {
      // Routes and findings sent by reference are recomputed from the evidence (src/activities/brief-ref.ts).
      const p = { ...sent, brief: await resolveBrief(sent.brief) };
      const dir = phaseDir(p.brief.ctx.runDir, '', p.brief.iteration, `improve-${p.brief.artifact}`);
      return oncePerExecution(join(dir, 'change-agent-result.json'), () =>
        guarded(() => runChange(bt({}, p.brief.ctx.agentDir), { ...p, dir, workerEnv }, signal(), heartbeatFn())),
      );
    },

    /**
     * Puts a rejected change back: every file the change agent touched in that iteration's change returns to its
     * content before the change (from the backup runChangeAgent kept). Idempotent, so a retry is harmless. A measurement
     * change's scorer files that were pushed are pushed again as restored, so Braintrust matches the working copy.
     */
    async revertChange(p: { ctx: OrientContext; iteration: number; artifact: ChangeArtifact; changeId: string; pushedScorers?: string[] }): Promise<RevertResult> {
      const dir = phaseDir(p.ctx.runDir, '', p.iteration, `improve-${p.artifact}`);
      const cwd = p.ctx.agentDir;
      const outcome = await revertChangeFromBackup(dir, cwd);
      const repushed = await guarded(() => pushScorerFiles(bt({}, cwd), { project: p.ctx.project.name, cwd, files: p.pushedScorers ?? [] }, signal()));
      const result: RevertResult = { changeId: p.changeId, ...outcome, repushedScorers: repushed.pushed };
      await writeJsonAtomic(join(dir, 'revert.json'), result);
      return result;
    },

    /** Writes a change brief for a person or a later change agent (no change agent configured). */
    async writeBrief(sent: BriefSent): Promise<BriefRef> {
      const brief = await resolveBrief(sent);
      const body = renderBrief(brief);
      const ref = await writeFileAtomic(join(phaseDir(brief.ctx.runDir, '', brief.iteration, `improve-${brief.artifact}`), 'brief.md'), body);
      return { path: ref.path, body };
    },

    async loadBaseline(ctx: OrientContext): Promise<EvalResult | null> {
      const dir = join(ctx.runDir, 'baseline');
      const result = await guarded(() => loadBase(bt({}, ctx.agentDir), ctx, dir, signal()));
      return result && storeResult(join(dir, 'baseline-eval.json'), 'eval', result, EVAL_FILE_ONLY);
    },

    /**
     * `slim` (sent by workflows since issue 9's history cuts): the result returned holds only what the workflow reads —
     * ids, means, counts and, when `slim.distributions`, the score distributions; the URL (and the distributions
     * otherwise) stay in the stored file, which every later reader is sent. Without it, the whole result (minus the rows
     * file, which only the activities sent the reference read).
     */
    async runEval(p: RunEvalInput): Promise<EvalResult> {
      return evalOne(p);
    },

    /**
     * Several evals in one activity (the unchanged agent's train and validation splits; a change's full train and
     * validation evals): one activity in history instead of one per eval (issue 9). Up to the context's
     * `evalConcurrency` run at once (config; contexts written before it: one at a time). Each eval is its own
     * execution step as in runEval, so a retry reuses the evals already finished — including one that finished
     * while another failed. After a failure no further eval starts; the first failure in list order is raised.
     */
    async runEvals(p: { ctx: OrientContext; cwd: string; runs: Omit<RunEvalInput, 'ctx' | 'cwd'>[] }): Promise<EvalResult[]> {
      return boundedInOrder(p.ctx.evalConcurrency ?? 1, p.runs.map((run) => () => evalOne({ ...run, ctx: p.ctx, cwd: p.cwd })));
    },

    async compareRuns(p: CompareInput): Promise<RowComparison> {
      return compareOne(p);
    },

    /**
     * Verify's routing evidence: failure shapes of the new run absent from the baseline, and the cohorts curated this
     * run that the evaluated split does not cover or that still fail (src/activities/verify-evidence.ts).
     */
    async verifyEvidence(p: VerifyInput): Promise<VerifyEvidenceResult> {
      return verifyOne(p);
    },

    /**
     * The per-row comparison and the routing evidence of one validation run against the baseline, in one activity
     * (issue 9: one activity in history instead of two). The routing evidence returned is what Verify decides with;
     * the curated cohorts' statistics stay in its evidence file.
     */
    async compareAndVerify(p: CompareInput & { evidence: Omit<VerifyInput, 'baseline' | 'next' | 'runDir' | 'iteration'> }): Promise<{ comparison: RowComparison; evidence: Pick<VerifyEvidenceResult, 'newFailurePatterns' | 'remainingGaps' | 'rows'> }> {
      const { evidence: e, ...cmp } = p;
      const comparison = await compareOne(cmp);
      const { newFailurePatterns, remainingGaps, rows } = await verifyOne({ ...e, baseline: p.baseline, next: p.next, runDir: p.runDir, iteration: p.iteration });
      return { comparison, evidence: { newFailurePatterns, remainingGaps, rows } };
    },

    /** Builds, validates and writes the handoff; validation failures are not retryable. */
    /** The fleet summary over every project's run (src/activities/fleet.ts). */
    writeFleetSummary,
    async writeHandoff(p: { input: HandoffInput; outDir: string; diagnosisOf?: DiagnosisRecipe }): Promise<HandoffPaths> {
      const withEvals = await withStoredResults(p.input);
      const withEvid = withEvals.evidence || !withEvals.evidenceFile ? withEvals : await withEvidence(withEvals, withEvals.evidenceFile);
      const input = await withRunFiles(withFindingQueries(p.diagnosisOf && !withEvid.diagnosis ? withDiagnosis(withEvid, p.diagnosisOf) : withEvid));
      const summary = buildSummary({ ...input, artifacts: [...input.artifacts, ...runArtifacts(input)] });
      const narrative = renderNarrative(summary);
      const files = await writeHandoffFiles(p.outDir, summary, narrative);
      return { summaryPath: files.summary.path, narrativePath: files.narrative.path, outcome: summary.outcome };
    },
  }, deps.keepAliveMs ?? KEEPALIVE_HEARTBEAT_MS);
}

/**
 * The eval results (and baseline) the handoff was sent by reference, read back. The handoff is written on every
 * exit, so one whose file is gone or changed is left out, saying why, instead of failing it.
 */
async function withStoredResults(input: HandoffInput): Promise<HandoffInput> {
  const missing: string[] = [];
  const resolved = await resolveStored(input, (err: StoredFileError) => {
    missing.push(`the ${err.ref.kind === 'eval' ? 'eval result' : 'run context'} ${err.ref.path} is not in this handoff: it ${err.why}`);
    return null;
  });
  if (!missing.length) return resolved;
  const context = resolved.context ?? { modeReason: '', projectSource: null, baseline: null, notes: [] };
  return { ...resolved, evals: resolved.evals.filter((e) => e !== null), context: { ...context, notes: [...context.notes, ...missing] } };
}

/**
 * The run's last diagnosis, recomputed from the evidence (diagnose() is pure) with the options the workflow used,
 * and checked against the digest of the one the run acted on. Without the evidence there is none, saying why; a
 * different result (this worker's code differs from the workflow's) is used, saying so.
 */
function withDiagnosis(input: HandoffInput, recipe: DiagnosisRecipe): HandoffInput {
  const note = (text: string) => {
    const context = input.context ?? { modeReason: '', projectSource: null, baseline: null, notes: [] };
    return { ...context, notes: [...context.notes, text] };
  };
  if (!input.evidence) return { ...input, context: note('the diagnosis is not in this handoff: it is recomputed from the evidence, which is missing') };
  // A run whose evidence came with numbered queries diagnosed it so: the same here (the texts go back in afterwards).
  const diagnosis = diagnose(recipe.queriesByNumber ? numbered(input.evidence).evidence : input.evidence, {
    binaryScores: recipe.binaryScores,
    ...(recipe.primaryScore ? { primaryScore: recipe.primaryScore } : {}),
    coverageGapRoutes: recipe.coverageGapRoutes ?? false,
  });
  if (textDigest(JSON.stringify(diagnosis)) === recipe.digest) return { ...input, diagnosis };
  return { ...input, diagnosis, context: note("the diagnosis in this handoff was recomputed from the evidence by this worker's code and differs from the one the run acted on (a different release?)") };
}

/**
 * The query texts of a diagnosis made from evidence with numbered queries (its findings carry `queryNo`), from the
 * evidence file (numbered the same way). Without the evidence the findings keep an empty query, saying why.
 */
function withFindingQueries(input: HandoffInput): HandoffInput {
  if (!input.diagnosis?.findings.some((f) => typeof f.queryNo === 'number')) return input;
  if (input.evidence) return { ...input, diagnosis: withQueryTexts(input.diagnosis, numbered(input.evidence).table) };
  const context = input.context ?? { modeReason: '', projectSource: null, baseline: null, notes: [] };
  return {
    ...input,
    diagnosis: withQueryTexts(input.diagnosis, []),
    context: { ...context, notes: [...context.notes, 'the query texts of the findings are not in this handoff: they are in the evidence file, which is missing'] },
  };
}

/**
 * The evidence Discover wrote, read back for the handoff. The handoff is written on every exit, so a file that is
 * gone or changed since (checked by sha256) does not fail it: it is written without the evidence, saying why.
 */
async function withEvidence(input: HandoffInput, ref: { path: string; sha256: string }): Promise<HandoffInput> {
  const got = await readChecked(ref);
  if ('text' in got) return { ...input, evidence: JSON.parse(got.text) as DiscoverEvidence };
  const why = got.why === 'changed' ? 'it changed after Discover wrote it' : `it cannot be read (${got.detail})`;
  const note = `the evidence of this run (${ref.path}) is not in this handoff: ${why}`;
  const context = input.context ?? { modeReason: '', projectSource: null, baseline: null, notes: [] };
  return { ...input, context: { ...context, notes: [...context.notes, note] } };
}

/** A file of this run read back for the handoff, only if it is still what the activity that wrote it recorded. */
async function checkedText(ref: { path: string; sha256: string }): Promise<string | null> {
  const got = await readChecked(ref);
  return 'text' in got ? got.text : null;
}

/**
 * The run-directory files the handoff quotes: each change's diff (an excerpt) and the regression drill-in. A file that
 * is gone or changed is left out with a note; the handoff is written on every exit.
 */
async function withRunFiles(input: HandoffInput): Promise<HandoffInput> {
  const notes: string[] = [];
  const changeDiffs: NonNullable<HandoffInput['changeDiffs']> = { ...(input.changeDiffs ?? {}) };
  for (const c of input.changes) {
    if (!c.diffFile || changeDiffs[c.id]) continue;
    const text = await checkedText(c.diffFile);
    if (text === null) {
      notes.push(`the diff of change ${c.id} (${c.diffFile.path}) is not in this handoff: it is gone or changed since the change was made`);
      continue;
    }
    const excerpt = text.length > DIFF_EXCERPT_CHARS ? `${text.slice(0, DIFF_EXCERPT_CHARS)}\n… (cut: the whole diff is in ${c.diffFile.path})` : text.trimEnd();
    changeDiffs[c.id] = { path: c.diffFile.path, sha256: c.diffFile.sha256, excerpt, truncated: text.length > DIFF_EXCERPT_CHARS };
  }
  let drilldown = input.regressionDrilldown ?? null;
  const ref = input.comparison?.drilldown;
  if (!drilldown && ref) {
    const text = await checkedText(ref);
    if (text === null) notes.push(`the drill-in of the regressed rows (${ref.path}) is not in this handoff: it is gone or changed since Verify wrote it`);
    else drilldown = (JSON.parse(text) as DrilldownDoc).rows;
  }
  if (input.comparison?.drilldownError) notes.push(input.comparison.drilldownError);
  const context = input.context ?? { modeReason: '', projectSource: null, baseline: null, notes: [] };
  return {
    ...input,
    ...(Object.keys(changeDiffs).length ? { changeDiffs } : {}),
    ...(drilldown ? { regressionDrilldown: drilldown } : {}),
    ...(notes.length ? { context: { ...context, notes: [...context.notes, ...notes] } } : {}),
  };
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/** The files a run produced (eval rows, curated dataset rows, change briefs), for the handoff's artifacts. */
function runArtifacts(input: HandoffInput): SummaryArtifact[] {
  const out: SummaryArtifact[] = [];
  for (const e of input.evals) {
    if (e.rowsFile) out.push({ kind: 'eval_rows', path: e.rowsFile.path, sha256: e.rowsFile.sha256, description: `per-row scores of ${e.runMode} eval ${e.experimentName} (${e.split})` });
  }
  for (const c of input.changes) {
    const f = c.datasetRows?.rowsFile;
    if (f) out.push({ kind: 'dataset_rows', path: f.path, sha256: f.sha256, description: `${f.rows ?? c.datasetRows!.upserted} rows upserted into ${c.datasetRows!.dataset} for ${c.routeId}` });
  }
  for (const [id, d] of Object.entries(input.changeDiffs ?? {})) out.push({ kind: 'diff', path: d.path, sha256: d.sha256, description: `unified diff of change ${id} against the files before it` });
  if (input.comparison?.drilldown) out.push({ kind: 'other', path: input.comparison.drilldown.path, sha256: input.comparison.drilldown.sha256, description: 'the largest regressed eval rows drilled into: input, outputs before and after, scorer rationale' });
  for (const b of input.briefs ?? []) out.push({ kind: 'brief', path: b.path, sha256: null, description: `change brief for ${b.artifact}: ${b.title}` });
  return out;
}

export type FlywheelActivities = ReturnType<typeof createActivities>;
