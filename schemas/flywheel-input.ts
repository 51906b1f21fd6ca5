/**
 * Input of one flywheel run. Validated by the starter before it starts a workflow and again by the
 * workflow itself (a schedule or a hand-written `temporal workflow start` skips the starter).
 */
import { z } from 'zod';

const durationPattern = /^\d+(\.\d+)?\s*(ms|s|m|h|d)$/;

export const flywheelInputSchema = z
  .object({
    /** Braintrust project name; when absent Orient resolves it (.bt/config.json, AGENTS.md…, bt projects list). */
    project: z.string().min(1).optional(),
    goal: z.string().min(1).default('general health check'),
    mode: z.enum(['autonomous', 'interactive']).default('interactive'),
    /** Why this mode: which of the seed's autonomous signals was present (recorded in the handoff). */
    modeReason: z.string().default('no autonomous signal present'),
    /** Experiment id or name to compare against; else the newest experiment of the project. */
    baselineExperiment: z.string().min(1).optional(),
    /** Discover window in days; widened 7 → 30 automatically for low traffic. */
    windowDays: z.number().int().min(1).max(365).default(7),
    /** Eval files, relative to agentDir; when empty they are found (eval_*.ts|py, evals/). */
    evalFiles: z.array(z.string().min(1)).default([]),
    /** The agent's repository: where the change agent runs and eval files live. */
    agentDir: z.string().min(1),
    /** Copy agentDir into the run directory first and work on the copy (the example does this). */
    workOnCopy: z.boolean().default(false),
    /** Change-agent command (argv), run in the agent's repository with the brief on stdin. */
    changeCommand: z.array(z.string().min(1)).min(1).optional(),
    changeTimeout: z.string().regex(durationPattern, 'a duration such as 20m or 1h').default('30m'),
    /** Labeler command (argv): reads JSON rows on stdin, prints them back with `expected` filled. */
    labeler: z.array(z.string().min(1)).min(1).optional(),
    /**
     * Worker variables the change agent and the labeler may see, by NAME (they get PATH, HOME, locale and the
     * brief variables, nothing else of the worker's; see src/child-env.ts). Their commands may also reference
     * variables as `$NAME`, expanded on the worker when they run.
     */
    agentEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name (letters, digits, _)')).default([]),
    /** How long an interactive gate waits for a person before the run ends `blocked`. */
    gateTimeout: z.string().regex(durationPattern, 'a duration such as 30m or 24h').default('24h'),
    /**
     * How long transient failures (Braintrust or the network down, 5xx, 429, timeouts) are retried, with backoff,
     * before the run gives up; permanent ones (auth, bad input) stop at once.
     */
    retryWindow: z.string().regex(durationPattern, 'a duration such as 30m or 2h').default('30m'),
    /** Where bt-flywheel-summary.json and bt-flywheel-narrative.md are written. */
    outDir: z.string().min(1),
    /**
     * Write the handoff into `<outDir>/<workflow id>/` instead of `outDir` itself: scheduled runs set it, so each run
     * keeps its own bt-flywheel-summary.json instead of overwriting the last one.
     */
    handoffPerRun: z.boolean().default(false),
    /** Root of the run directories (evidence, curated rows, eval results). */
    runsDir: z.string().min(1),
    /** Dataset the flywheel curates into; default `flywheel-<project>`. */
    datasetName: z.string().min(1).optional(),
    maxIterations: z.number().int().min(1).max(10).default(3),
    /**
     * How many of a run's paired evals (the unchanged agent's train and validation splits; a change's full train and
     * validation evals) run at once. Each `bt eval` runs the agent on its rows, so 2 doubles the agent's concurrent
     * calls to its LLM provider: 1 for a provider with tight rate limits.
     */
    evalConcurrency: z.number().int().min(1).max(4).default(2),
    /**
     * Extra environment for `bt eval` (and the eval runner it starts), as PATHS and NAMES only: the worker reads
     * the files and the named variables when it runs the eval, so no value enters workflow history.
     * `dotenv`: load `.env` from agentDir when it exists. `envFiles`: absolute .env-format files (must exist),
     * later ones override earlier ones. `evalEnv`: names passed through from the worker's environment.
     */
    dotenv: z.boolean().default(true),
    envFiles: z.array(z.string().min(1)).default([]),
    evalEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name (letters, digits, _)')).default([]),
    /** Score the goal is about; default: the first score column discovered. */
    targetScore: z.string().min(1).optional(),
    /**
     * Where this run's activities execute: the task queues of the worker that holds the agent directory, the run
     * directory and the Braintrust credentials (`host` for short work, `heavy` for evals, curation and the change
     * agent). Absent: the first worker that picks the run up claims it (its `claimHost` activity names its queues).
     */
    hostQueues: z.object({ host: z.string().min(1).max(200), heavy: z.string().min(1).max(200) }).strict().optional(),
  })
  .strict();

/**
 * The same input as the workflow reads it: unknown fields are dropped instead of refused, so a newer starter
 * that adds a field does not fail the runs an older worker picks up (the starter validates strictly).
 */
export const workflowInputSchema = flywheelInputSchema.strip();

export type FlywheelInput = z.input<typeof flywheelInputSchema>;
export type HostQueues = NonNullable<z.output<typeof flywheelInputSchema>['hostQueues']>;
export type FlywheelConfig = z.output<typeof flywheelInputSchema>;

/** Parses a duration like "90s", "20m", "24h", "2d" into milliseconds. */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration '${text}': use a number with ms, s, m, h or d (for example 30m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}
