/**
 * Least privilege for the subprocesses the flywheel runs for the user (the change agent, the labeler):
 * they get an allow-listed environment, never the worker's whole one. The worker holds BRAINTRUST_API_KEY,
 * TEMPORAL_API_KEY, cloud credentials and whatever else its host has; a change agent that reads production
 * data as instructions must not be able to use them. A variable reaches the subprocess only when it is on
 * the base list below, set by the flywheel (the brief variables), or named by the user (`--agent-env NAME`).
 *
 * A command may reference a secret by name (`--token $MY_TOKEN` or `${MY_TOKEN}`): the reference is what
 * goes into workflow history and the handoff; it is expanded from the worker's environment only when the
 * command runs. The variable itself is not passed into the child's environment unless named.
 */
const BASE_NAMES: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM', 'NO_COLOR'];
const BASE_PREFIXES: readonly string[] = ['LC_'];

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class ChildEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChildEnvError';
  }
}

/**
 * The environment for a user subprocess: the base allow-list and the named variables from `source`, then
 * `extra` (set by the flywheel). Names that are not set are simply absent; use `missingNames` to check first.
 */
export function childEnv(
  source: Readonly<Record<string, string | undefined>>,
  named: readonly string[],
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) {
    if (v === undefined) continue;
    if (BASE_NAMES.includes(k) || BASE_PREFIXES.some((p) => k.startsWith(p)) || named.includes(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Named variables that are not set in `source`. */
export function missingNames(source: Readonly<Record<string, string | undefined>>, names: readonly string[]): string[] {
  return names.filter((n) => source[n] === undefined);
}

/** `$NAME` and `${NAME}` references inside the arguments (not the program). */
export function argvReferences(argv: readonly string[]): string[] {
  const names = new Set<string>();
  for (const a of argv) for (const m of a.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g)) names.add((m[1] ?? m[2])!);
  return [...names];
}

/**
 * Expands `$NAME` / `${NAME}` references from `source` (no shell: nothing else is interpreted; `$$` is a
 * literal `$`). An unset reference is an error naming it, never an empty string.
 */
export function expandArgv(argv: readonly string[], source: Readonly<Record<string, string | undefined>>): string[] {
  return argv.map((a) =>
    a.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, bare?: string) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const v = source[name];
      if (v === undefined) throw new ChildEnvError(`the command references $${name}, which is not set in the worker's environment`);
      return v;
    }),
  );
}
