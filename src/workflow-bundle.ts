/**
 * The pre-built workflow bundle: the workflow code bundled once at build time (`npm run build`, scripts/setup.sh)
 * into dist/workflow-bundle.js, shared by every worker and by `flywheel replay`, instead of webpack-bundling the
 * workflow sources on every worker start and every replay (≈2 s each).
 *
 * It is used only when it is at least as new as every compiled workflow file, so a stale bundle never runs code
 * that differs from the sources; otherwise callers fall back to `workflowsPath` (bundled on the fly).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from './paths.js';

export const BUNDLE_PATH = join(packageRoot, 'dist', 'workflow-bundle.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(js|ts)$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** `{ codePath }` of the pre-built bundle when it is fresh for `workflowsPath`'s directory tree, else undefined. */
export function prebuiltBundle(workflowsPath: string, bundlePath: string = BUNDLE_PATH): { codePath: string } | undefined {
  if (!existsSync(bundlePath)) return undefined;
  // The workflow code imports from src/ (or dist/src/) beyond workflows/: compare with the whole source tree.
  const srcRoot = dirname(dirname(workflowsPath));
  const schemas = join(dirname(srcRoot), 'schemas');
  const newest = Math.max(newestMtime(srcRoot), existsSync(schemas) ? newestMtime(schemas) : 0);
  return statSync(bundlePath).mtimeMs >= newest ? { codePath: bundlePath } : undefined;
}

/** Writes the bundle (build step). */
export async function writeBundle(workflowsPath: string, bundlePath: string = BUNDLE_PATH): Promise<number> {
  const [{ bundleWorkflowCode, DefaultLogger }, { mkdir, writeFile }] = await Promise.all([import('@temporalio/worker'), import('node:fs/promises')]);
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  await mkdir(dirname(bundlePath), { recursive: true });
  await writeFile(bundlePath, code);
  return Buffer.byteLength(code);
}

// `node dist/src/workflow-bundle.js`: the build step.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // (Not imported from worker.ts, which imports this module.)
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, 'workflows', 'index.js');
  const bytes = await writeBundle(existsSync(js) ? js : join(here, 'workflows', 'index.ts'));
  process.stderr.write(`[build] workflow bundle: ${BUNDLE_PATH} (${Math.round(bytes / 1024)} KB)\n`);
}
