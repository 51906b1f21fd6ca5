/**
 * Shared pieces of the `flywheel` CLI: global options, configuration precedence (flags > env > config file >
 * defaults), the outcome → exit code table, output in human or JSON form, and errors as one clear line.
 */
import { termSafe } from '../untrusted.js';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { flywheelHome } from '../paths.js';
import { connectClient, describeTarget, resolveTemporalTarget, type TemporalTarget } from '../temporal/connection.js';

/** Exit codes by outcome, so CI can branch (documented in the README). */
export const EXIT_CODES = {
  healthy: 0,
  improved: 10,
  needs_work: 11,
  blocked: 12,
  no_convergence: 13,
  error: 1,
  usage: 2,
} as const;

/** The exit code of a run's outcome (`run`, `watch`): an unknown or missing outcome is an error. */
export function exitCodeFor(outcome: string | undefined): number {
  return outcome && outcome in EXIT_CODES ? EXIT_CODES[outcome as keyof typeof EXIT_CODES] : EXIT_CODES.error;
}

export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  config?: string;
  home?: string;
  address?: string;
  namespace?: string;
  apiKey?: string;
  profile?: string;
}

/** An error meant for the user: printed as one line (no stack unless --verbose), with an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_CODES.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The config file: `flywheel.config.json` in the cwd, or `--config PATH` / FLYWHEEL_CONFIG. Keys mirror the flags. */
export const configFileSchema = z
  .object({
    project: z.string().optional(),
    goal: z.string().optional(),
    mode: z.enum(['autonomous', 'interactive']).optional(),
    baseline: z.string().optional(),
    windowDays: z.number().int().positive().optional(),
    evalFiles: z.array(z.string()).optional(),
    agentDir: z.string().optional(),
    changeCommand: z.array(z.string()).optional(),
    labeler: z.array(z.string()).optional(),
    gateTimeout: z.string().optional(),
    retryWindow: z.string().optional(),
    outDir: z.string().optional(),
    datasetName: z.string().optional(),
    /** How many paired evals run at once (1–4, default 2). */
    evalConcurrency: z.number().int().min(1).max(4).optional(),
    /** .env-format files for `bt eval` (relative paths resolve against the current directory, like agentDir). */
    envFile: z.union([z.string(), z.array(z.string())]).optional(),
    /** Names of the worker's environment variables passed to `bt eval`. */
    evalEnv: z.union([z.string(), z.array(z.string())]).optional(),
    /** false: do not load the agent directory's .env for `bt eval`. */
    dotenv: z.boolean().optional(),
    /** Names of the worker's environment variables the change agent and the labeler may see. */
    agentEnv: z.union([z.string(), z.array(z.string())]).optional(),
    temporal: z.object({ address: z.string().optional(), namespace: z.string().optional(), profile: z.string().optional() }).strict().optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof configFileSchema>;

export function loadConfigFile(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): ConfigFile {
  const explicit = globals.config ?? env.FLYWHEEL_CONFIG;
  const path = resolve(explicit ?? join(process.cwd(), 'flywheel.config.json'));
  if (!existsSync(path)) {
    if (explicit) throw new CliError(`config file ${path} does not exist`, EXIT_CODES.usage);
    return {};
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`config file ${path} is not valid JSON: ${(err as Error).message}`, EXIT_CODES.usage);
  }
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`config file ${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`, EXIT_CODES.usage);
  }
  return parsed.data;
}

export function homeOf(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  return globals.home ? resolve(globals.home) : flywheelHome(env);
}

/** Temporal: flags > TEMPORAL_* env > config file > envconfig profile > the embedded dev server. */
export async function temporalTarget(globals: GlobalOptions, log?: (m: string) => void): Promise<TemporalTarget> {
  const cfg = loadConfigFile(globals);
  return resolveTemporalTarget({
    home: homeOf(globals),
    flags: {
      address: globals.address ?? (process.env.TEMPORAL_ADDRESS ? undefined : cfg.temporal?.address),
      namespace: globals.namespace ?? (process.env.TEMPORAL_NAMESPACE ? undefined : cfg.temporal?.namespace),
      apiKey: globals.apiKey,
      profile: globals.profile ?? cfg.temporal?.profile,
    },
    ...(log ? { devServer: { log } } : {}),
  });
}

/** Runs `fn` with a connected client and closes the connection afterwards. */
export async function withClient<T>(globals: GlobalOptions, fn: (client: Client, target: TemporalTarget) => Promise<T>): Promise<T> {
  const target = await temporalTarget(globals, globals.verbose ? (m) => process.stderr.write(`${m}\n`) : undefined);
  let client: Client;
  try {
    client = await connectClient(target);
  } catch (err) {
    throw new CliError(`cannot connect to Temporal at ${describeTarget(target)}: ${(err as Error).message}`);
  }
  try {
    return await fn(client, target);
  } finally {
    await client.connection.close();
  }
}

/** The global options of a subcommand (commander keeps them on the root program). */
export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/**
 * A commander action for `fn(...arguments, globals)`: passes the command's global options last, and a number
 * `fn` returns becomes the process exit code.
 */
export const act =
  <A extends unknown[]>(fn: (...args: [...A, GlobalOptions]) => Promise<void | number>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const code = await fn(...(args.slice(0, -1) as A), globalsOf(cmd));
    if (typeof code === 'number') process.exitCode = code;
  };

/** Prints a result: JSON (one object) with --json, else the human text. */
export function output(globals: GlobalOptions, json: unknown, human: string | (() => string)): void {
  if (globals.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else process.stdout.write(termSafe(typeof human === 'function' ? human() : human, 200_000) + '\n');
}

/** Maps well-known Temporal client errors to user sentences. */
export function explainError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const e = err as { name?: string; message?: string; code?: number };
  const msg = e?.message ?? String(err);
  if (e?.name === 'WorkflowNotFoundError' || /workflow (execution )?not found|not found for ID/i.test(msg)) {
    return new CliError(`no flywheel run with that id: ${msg}. List runs with \`flywheel list\`.`);
  }
  if (e?.name === 'WorkflowExecutionAlreadyStartedError') return new CliError(`a run with that id is already running: ${msg}`);
  if (/ECONNREFUSED|UNAVAILABLE|failed to connect|transport error/i.test(msg)) {
    return new CliError(`cannot reach Temporal: ${msg}. Check --address/TEMPORAL_ADDRESS, or drop them to use the embedded dev server.`);
  }
  return new CliError(msg);
}

/** Reads `--by` or the current user for gate decisions. */
export function actorName(by?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (by ?? env.FLYWHEEL_ACTOR ?? env.USER ?? env.LOGNAME) return (by ?? env.FLYWHEEL_ACTOR ?? env.USER ?? env.LOGNAME)!;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Braintrust for activities: with BRAINTRUST_API_KEY set, the real service (or whatever BRAINTRUST_APP_URL /
 * BRAINTRUST_API_URL name); otherwise the embedded local Braintrust-compatible server, started or reused.
 */
export async function braintrustEnv(
  globals: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ btEnv: Record<string, string>; appUrl: string; embedded: boolean }> {
  const { btEnvFrom } = await import('../bt/run.js');
  if (env.BRAINTRUST_API_KEY) {
    const btEnv = btEnvFrom(env);
    return { btEnv, appUrl: env.BRAINTRUST_APP_URL ?? 'https://www.braintrust.dev', embedded: false };
  }
  const { ensureLocalServer } = await import('../local-server/daemon.js');
  const info = await ensureLocalServer({ home: homeOf(globals, env) });
  const btEnv = { ...btEnvFrom(env), ...info.btEnv() };
  return { btEnv, appUrl: info.appUrl, embedded: true };
}
