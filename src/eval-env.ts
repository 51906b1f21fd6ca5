/**
 * The environment `bt eval` (and the eval runner it starts) gets on top of the flywheel's own closed bt
 * environment: `.env` in the agent directory, `--env-file` files, and `--eval-env NAME` pass-throughs of
 * the worker's environment.
 *
 * VALUES never leave this module except into the env of the one `bt eval` child: the workflow input carries
 * file paths and variable NAMES, the activity that runs the eval reads the files on the worker at execution
 * time, and what the eval saw is recorded as names with their source. Error messages name the file, the
 * line and the variable, never a value.
 *
 * Precedence, lowest to highest (the shell wins over .env files, as dotenv and `bt --env-file` do):
 *   1. `.env` in the agent directory (optional; `--no-dotenv` skips it),
 *   2. `--env-file` files, in the order given (a later file overrides an earlier one),
 *   3. the worker's environment: a name defined in a file but also set (non-empty) in the worker's
 *      environment takes the worker's value (recorded as source `worker_env`); `--eval-env NAME` passes a
 *      name that only the worker's environment has,
 *   4. the variables the flywheel itself sets for bt (BRAINTRUST_*, BT_*, FLYWHEEL_*, PATH, HOME, …): a file
 *      never overrides them (they are skipped and listed as ignored) and `--eval-env` may not name them, so a
 *      team's `.env` with its own BRAINTRUST_API_KEY cannot send the eval to another server than the one the
 *      flywheel reads the experiment back from.
 *
 * Why inject instead of passing `bt eval --env-file`: bt 0.12.0 (src/env.rs) takes ONE --env-file (the last
 * one given wins), never loads `.env` by itself, parses with dotenvy (which expands `$VAR`, unlike this
 * parser), and loads the file into bt's own process, where a BRAINTRUST_* line not already set would change
 * bt's login. A missing or broken file would only surface as a generic exit 1 deep inside the eval activity.
 * Injecting the parsed names into the explicit child env (the runner inherits bt's environment) gives several
 * files, a precedence we control, checks before the run starts, and the names we record in the handoff.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where a variable given to `bt eval` came from. */
export type EvalEnvSource = 'dotenv' | 'env_file' | 'eval_env' | 'worker_env';

export interface EvalEnvName {
  name: string;
  source: EvalEnvSource;
  /** The file that defined it (dotenv, env_file, or the file whose value the worker's environment shadowed). */
  file: string | null;
}

/** What the workflow carries: paths and names only. */
export interface EvalEnvSpec {
  /** Files in precedence order (lowest first). `required: false` only for the agent directory's default `.env`. */
  files: { path: string; source: 'dotenv' | 'env_file'; required: boolean }[];
  /** Names passed through from the worker's environment (`--eval-env`). */
  passNames: string[];
}

/** What Orient records (names only). */
export interface EvalEnvRecord {
  spec: EvalEnvSpec;
  names: EvalEnvName[];
  /** Names a file defined that the flywheel sets itself (never overridden). */
  ignored: { name: string; file: string; reason: string }[];
}

export class EvalEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalEnvError';
  }
}

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_PREFIXES = ['BRAINTRUST_', 'BT_', 'FLYWHEEL_'];

/** Names the flywheel controls for bt: never taken from a file or `--eval-env`. */
export function isReservedName(name: string, controlled: ReadonlySet<string> | readonly string[] = []): boolean {
  const set = controlled instanceof Set ? controlled : new Set(controlled as readonly string[]);
  return RESERVED_PREFIXES.some((p) => name.startsWith(p)) || set.has(name);
}

export interface DotenvEntry {
  name: string;
  value: string;
  line: number;
}

/**
 * Parses a .env file: `NAME=value` lines, blank lines and `#` comments, an optional `export ` prefix,
 * unquoted values (trimmed; ` #` starts a comment), 'single quoted' and `backtick quoted` values (literal),
 * "double quoted" values (escapes \n \r \t \" \\ \$; other backslashes are kept), quoted values may span
 * lines, empty values. No variable expansion: `$OTHER` and `${OTHER}` are kept literally. A name defined
 * twice takes the later value. Errors say file and line, never the value.
 */
export function parseDotenv(text: string, file = '.env'): DotenvEntry[] {
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const out: DotenvEntry[] = [];
  let i = 0;
  let line = 1;
  const fail = (at: number, what: string): never => {
    throw new EvalEnvError(`${file}:${at}: ${what}`);
  };
  const skipBlanks = () => {
    while (i < src.length && (src[i] === ' ' || src[i] === '\t')) i++;
  };
  const restOfLine = (): string => {
    const end = src.indexOf('\n', i);
    const s = src.slice(i, end < 0 ? src.length : end);
    i = end < 0 ? src.length : end;
    return s;
  };
  while (i < src.length) {
    skipBlanks();
    if (src[i] === '\n') {
      i++;
      line++;
      continue;
    }
    if (i >= src.length) break;
    if (src[i] === '#') {
      restOfLine();
      continue;
    }
    const start = line;
    if (src.startsWith('export', i) && (src[i + 6] === ' ' || src[i + 6] === '\t')) {
      i += 6;
      skipBlanks();
    }
    const nameMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 1024));
    if (!nameMatch) fail(start, 'expected NAME=value (a name is letters, digits and _, not starting with a digit)');
    const name = nameMatch![0];
    i += name.length;
    skipBlanks();
    if (src[i] !== '=') fail(start, `expected '=' after ${name}`);
    i++;
    skipBlanks();
    let value: string;
    const q = src[i];
    if (q === '"' || q === "'" || q === '`') {
      i++;
      let v = '';
      for (;;) {
        if (i >= src.length) fail(start, `unterminated ${q === '"' ? 'double' : q === "'" ? 'single' : 'backtick'}-quoted value of ${name}`);
        const c = src[i]!;
        if (c === q) {
          i++;
          break;
        }
        if (c === '\n') line++;
        if (q === '"' && c === '\\' && i + 1 < src.length) {
          const n = src[i + 1]!;
          const esc: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };
          if (n in esc) {
            v += esc[n];
            i += 2;
            continue;
          }
        }
        v += c;
        i++;
      }
      value = v;
      skipBlanks();
      if (i < src.length && src[i] !== '\n' && src[i] !== '#') fail(line, `unexpected text after the quoted value of ${name}`);
      restOfLine();
    } else {
      const raw = restOfLine();
      const comment = /(^|[ \t])#/.exec(raw);
      value = (comment ? raw.slice(0, comment.index) : raw).trim();
    }
    out.push({ name, value, line: start });
  }
  return out;
}

/** Reads and parses one file; a missing file is an error only when `required`. */
function readEnvFile(path: string, required: boolean, label: string): DotenvEntry[] | null {
  if (!existsSync(path)) {
    if (required) throw new EvalEnvError(`${label} ${path} does not exist`);
    return null;
  }
  if (!statSync(path).isFile()) throw new EvalEnvError(`${label} ${path} is not a file`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EvalEnvError(`${label} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseDotenv(text, path);
}

/** The spec for a run: the agent directory's `.env` (unless disabled), then the explicit files, then the names. */
export function evalEnvSpec(p: { agentDir: string; envFiles?: readonly string[]; evalEnv?: readonly string[]; dotenv?: boolean }): EvalEnvSpec {
  const files: EvalEnvSpec['files'] = [];
  if (p.dotenv !== false) files.push({ path: join(p.agentDir, '.env'), source: 'dotenv', required: false });
  for (const f of p.envFiles ?? []) files.push({ path: f, source: 'env_file', required: true });
  return { files, passNames: [...new Set(p.evalEnv ?? [])] };
}

/** Checks a `--eval-env` name: well-formed and not one the flywheel sets itself. */
export function checkPassName(name: string, controlled: ReadonlySet<string> | readonly string[] = []): void {
  if (!NAME_PATTERN.test(name)) throw new EvalEnvError(`--eval-env ${JSON.stringify(name)} is not a variable name`);
  if (isReservedName(name, controlled))
    throw new EvalEnvError(`--eval-env ${name}: the flywheel sets ${name} for bt itself (BRAINTRUST_*, BT_*, FLYWHEEL_*, PATH, HOME… are not passed through)`);
}

const isSet = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * Resolves the spec on the worker: the values for the eval's environment and, separately, the names with
 * their sources. Throws EvalEnvError for a missing explicit file, an unparsable file, or an unset/empty
 * `--eval-env` name.
 */
export function resolveEvalEnv(
  spec: EvalEnvSpec,
  workerEnv: Readonly<Record<string, string | undefined>>,
  controlled: ReadonlySet<string> | readonly string[] = [],
): { values: Record<string, string>; record: Omit<EvalEnvRecord, 'spec'> } {
  const fromFiles = new Map<string, { value: string; file: string; source: 'dotenv' | 'env_file' }>();
  const ignored: EvalEnvRecord['ignored'] = [];
  for (const f of spec.files) {
    const entries = readEnvFile(f.path, f.required, f.source === 'dotenv' ? '.env file' : '--env-file');
    for (const e of entries ?? []) {
      if (isReservedName(e.name, controlled)) {
        if (!ignored.some((x) => x.name === e.name && x.file === f.path))
          ignored.push({ name: e.name, file: f.path, reason: 'set by the flywheel for bt; a file never overrides it' });
        continue;
      }
      fromFiles.delete(e.name); // keep insertion order = the defining file's order
      fromFiles.set(e.name, { value: e.value, file: f.path, source: f.source });
    }
  }
  const values: Record<string, string> = {};
  const names: EvalEnvName[] = [];
  for (const [name, v] of fromFiles) {
    const shell = workerEnv[name];
    if (isSet(shell)) {
      values[name] = shell;
      names.push({ name, source: 'worker_env', file: v.file });
    } else {
      values[name] = v.value;
      names.push({ name, source: v.source, file: v.file });
    }
  }
  for (const name of spec.passNames) {
    checkPassName(name, controlled);
    const v = workerEnv[name];
    if (!isSet(v)) throw new EvalEnvError(`--eval-env ${name} is not set (or is empty) in the worker's environment`);
    values[name] = v;
    const i = names.findIndex((n) => n.name === name);
    if (i >= 0) names.splice(i, 1);
    names.push({ name, source: 'eval_env', file: null });
  }
  return { values, record: { names, ignored } };
}

/**
 * Removes every injected value (of 4+ characters) from a text that may go to history, logs or the handoff
 * (bt's stderr tail, error messages), in case an eval prints one.
 */
export function redactValues(text: string, values: Readonly<Record<string, string>>): string {
  let out = text;
  const secrets = Object.values(values)
    .filter((v) => v.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const v of secrets) out = out.split(v).join('<redacted>');
  return out;
}

/** One line for people: `OPENAI_API_KEY (.env), FOO (--env-file ci.env), BAR (--eval-env)`. */
export function describeEvalEnv(names: readonly EvalEnvName[], fileLabel: (path: string) => string = (p) => p): string {
  return names
    .map((n) => {
      switch (n.source) {
        case 'dotenv':
          return `${n.name} (.env)`;
        case 'env_file':
          return `${n.name} (--env-file ${fileLabel(n.file ?? '')})`;
        case 'eval_env':
          return `${n.name} (--eval-env)`;
        case 'worker_env':
          return `${n.name} (worker environment, over ${fileLabel(n.file ?? '')})`;
      }
    })
    .join(', ');
}
