/**
 * Global test setup: ONE real Temporal dev server (in-memory, headless, random port, every flywheel
 * search attribute registered) and ONE workflow bundle built from the current workflow code, both
 * shared by every test file through `inject('temporalAddress')` / `inject('workflowBundlePath')`.
 *
 * No Temporal CLI binary → both are null and Temporal tests skip, unless REQUIRE_TEMPORAL=1.
 * A workflow bundling error does not abort the run: it is provided as `workflowBundleError` and
 * surfaces in the workflow tests that need the bundle (unit tests still run).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { findTemporalCli } from '../../src/paths.js';
import { freePort, requireTemporalCli, spawnDevServer, waitForTemporal } from '../../src/temporal/devserver.js';
import { workflowsPath } from '../../src/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the shared dev server, or null when no Temporal CLI is installed. */
    temporalAddress: string | null;
    /** The pre-built workflow bundle (`workflowBundle: { codePath }`), or null (see workflowBundleError). */
    workflowBundlePath: string | null;
    workflowBundleError: string | null;
  }
}

let server: ChildProcess | undefined;
let tempDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  tempDir = mkdtempSync(join(tmpdir(), 'flywheel-test-'));
  const cliPath = findTemporalCli();
  if (!cliPath) {
    if (process.env.REQUIRE_TEMPORAL === '1') requireTemporalCli(); // throws the "how to get it" message
    console.warn('[global-setup] no Temporal CLI found: Temporal tests will be skipped (set REQUIRE_TEMPORAL=1 to fail instead)');
    project.provide('temporalAddress', null);
    project.provide('workflowBundlePath', null);
    project.provide('workflowBundleError', 'no Temporal CLI');
    return;
  }
  const [address, bundle] = await Promise.all([startServer(cliPath, tempDir), bundleWorkflows(tempDir)]);
  project.provide('temporalAddress', address);
  project.provide('workflowBundlePath', bundle.path);
  project.provide('workflowBundleError', bundle.error);
}

async function startServer(cliPath: string, dir: string): Promise<string> {
  const port = await freePort(); // headless: no UI port needed
  const address = `127.0.0.1:${port}`;
  const logFile = join(dir, 'temporal.log');
  server = spawnDevServer({ cliPath, port, uiPort: null, logFile, detached: false, logLevel: 'error' });
  await waitForTemporal(address, { timeoutMs: 30_000, child: server, logFile });
  return address;
}

async function bundleWorkflows(dir: string): Promise<{ path: string | null; error: string | null }> {
  try {
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    const path = join(dir, 'workflow-bundle.js');
    writeFileSync(path, code);
    return { path, error: null };
  } catch (err) {
    const message = `bundling ${workflowsPath} failed: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`[global-setup] ${message}`);
    return { path: null, error: message };
  }
}

export async function teardown(): Promise<void> {
  const child = server;
  server = undefined;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}
