/**
 * Loads the agent module from a directory at run time, so an eval (or the trace
 * generator) can exercise a copied, modified working tree of the agent.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as AgentModuleNs from './src/agent.js';

export type AgentModule = typeof AgentModuleNs;

/** The directory holding this file (the example's root, or a working copy of it). */
export const EXAMPLE_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * Resolves the agent source directory: `dir` argument, else FLYWHEEL_AGENT_DIR, else `./src`.
 * Relative paths are resolved against the example directory (the folder of this file).
 */
export function resolveAgentDir(dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = dir ?? (env.FLYWHEEL_AGENT_DIR?.trim() || './src');
  return isAbsolute(chosen) ? chosen : resolve(EXAMPLE_DIR, chosen);
}

/**
 * Imports `agent.ts` (or `agent.js` / `agent.mjs`) from the agent directory. ES modules are cached
 * per path for the life of the process, so load an edited agent from a fresh directory (or in a
 * fresh process, as `bt eval` does).
 */
export async function loadAgent(dir?: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentModule> {
  const agentDir = resolveAgentDir(dir, env);
  const candidates = ['agent.ts', 'agent.js', 'agent.mjs'].map((f) => join(agentDir, f));
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`support-agent: no agent.ts/agent.js in ${agentDir}`);
  const mod = (await import(pathToFileURL(file).href)) as AgentModule;
  if (typeof mod.answer !== 'function') throw new Error(`support-agent: ${file} does not export answer()`);
  return mod;
}
