/**
 * Least privilege for the user's subprocesses (src/child-env.ts) and redaction of their command lines
 * (src/workflows/logic/redact.ts): tables for the pure parts, then the real change-agent activity with a
 * command that writes its environment and argv to files.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { argvReferences, childEnv, expandArgv, missingNames } from '../src/child-env.js';
import type { Route } from '../src/workflows/logic/diagnose.js';
import { REDACTED, commandText, redactArgv, secretArgIndexes } from '../src/workflows/logic/redact.js';
import type { OrientContext } from '../src/workflows/types.js';
import { EXAMPLE_DIR } from './support/flywheel-e2e.js';

const tmp = mkdtempSync(join(tmpdir(), 'child-env-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const WORKER = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/home/worker',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  BRAINTRUST_API_KEY: 'fake-braintrust-0123456789abcdef',
  TEMPORAL_API_KEY: 'temporal-secret-0123456789',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  FLYWHEEL_CANARY: 'canary-value-1f2e3d',
  MY_AGENT_TOKEN: 'tok-abc-987',
};

describe('childEnv', () => {
  it('passes the base list and named variables only', () => {
    const env = childEnv(WORKER, ['MY_AGENT_TOKEN'], { FLYWHEEL_BRIEF_FILE: '/x/brief.md' });
    expect(Object.keys(env).sort()).toEqual(['FLYWHEEL_BRIEF_FILE', 'HOME', 'LANG', 'LC_ALL', 'MY_AGENT_TOKEN', 'PATH']);
  });
  it('names what is not set', () => {
    expect(missingNames(WORKER, ['MY_AGENT_TOKEN', 'NOPE'])).toEqual(['NOPE']);
  });
});

describe('expandArgv', () => {
  it.each([
    [['agent', '--token', '$MY_AGENT_TOKEN'], ['agent', '--token', 'tok-abc-987']],
    [['agent', '--token=${MY_AGENT_TOKEN}'], ['agent', '--token=tok-abc-987']],
    [['agent', 'costs $$5'], ['agent', 'costs $5']],
    [['agent', 'plain', '$'], ['agent', 'plain', '$']],
  ])('%j → %j', (argv, want) => {
    expect(expandArgv(argv, WORKER)).toEqual(want);
  });
  it('an unset reference is an error naming it, never an empty string', () => {
    expect(() => expandArgv(['agent', '$MISSING_ONE'], WORKER)).toThrow(/\$MISSING_ONE/);
  });
  it('lists references', () => {
    expect(argvReferences(['a', '$X', '--y=${Y}', '$$'])).toEqual(['X', 'Y']);
  });
});

/** Token-shaped test values, assembled at run time so no key-shaped literal sits in the repository. */
const SHAPED = {
  openai: ['sk', 'proj', 'A'.repeat(24)].join('-'),
  github: `ghp${'_'}${'0123456789abcdef'}ABCDEF0123`,
  jwt: [`ey${'J'}hbGciOiJIUzI1NiJ9`, `ey${'J'}zdWIiOiIxMjM0NTY3ODkwIn0`, 'sig'].join('.'),
};

describe('redactArgv', () => {
  it.each([
    [['agent', '--token', 'hunter2'], ['agent', '--token', REDACTED]],
    [['agent', '--api-key=abc'], ['agent', `--api-key=${REDACTED}`]],
    [['agent', '--token', '$MY_TOKEN'], ['agent', '--token', '$MY_TOKEN']],
    [['env', 'OPENAI_API_KEY=sk-live', 'agent'], ['env', `OPENAI_API_KEY=${REDACTED}`, 'agent']],
    [['agent', SHAPED.openai], ['agent', REDACTED]],
    [['agent', SHAPED.github], ['agent', REDACTED]],
    [['agent', 'Xy7Qw9Lm3Np5Rt8Vb2Cd4Fg6Hj1Kk0Zz'], ['agent', REDACTED]],
    [['agent', '--header', `Authorization: Bearer ${SHAPED.jwt}`], ['agent', '--header', REDACTED]],
    // Not secrets: paths, words, flags.
    [['my-coding-agent', '--apply', '/home/me/repos/agent/src/policy.ts'], ['my-coding-agent', '--apply', '/home/me/repos/agent/src/policy.ts']],
    [['sh', '-c', "echo // noop >> src/policy.ts"], ['sh', '-c', 'echo // noop >> src/policy.ts']],
  ])('%j', (argv, want) => {
    expect(redactArgv(argv)).toEqual(want);
  });
  it('reports which arguments it hides, and joins for display', () => {
    expect(secretArgIndexes(['agent', '--token', 'x', 'ok'])).toEqual([2]);
    expect(commandText(['agent', '--token', 'x'])).toBe(`agent --token ${REDACTED}`);
  });
});

const ctx = (agentDir: string): OrientContext => ({
  workflowId: 'wf-env', runDir: join(tmp, 'runs', 'wf-env'),
  project: { id: 'p', name: 'support-agent', source: 'input', sourceDetail: 'test' },
  org: 'local', appUrl: 'http://127.0.0.1:1', baseline: null, scoreColumns: ['answer_quality'], facetColumns: [], metadataKeys: [],
  schemaWindowDays: 7, primaryScore: 'answer_quality', binaryScores: [], agentDir, evalFiles: [], evalFilesSource: 'test',
  datasetName: 'flywheel-support-agent', instructionFiles: [], notes: [],
});
const route: Route = {
  id: 'agent:tool:lookup_order', artifact: 'agent', title: 'Fix lookup_order', rationale: 'r', evidence: [], counterevidence: [],
  confidence: 'high', targets: [{ kind: 'tool', name: 'lookup_order' }], findingIds: [], exampleTraceIds: [],
};

describe('the change agent activity runs with least privilege', () => {
  const agent = join(tmp, 'spy-agent.mjs');
  writeFileSync(agent, `import { writeFileSync } from 'node:fs';
writeFileSync('seen-env.json', JSON.stringify(process.env));
writeFileSync('seen-argv.json', JSON.stringify(process.argv.slice(2)));`);

  let iteration = 0;
  async function run(agentEnv: string[]): Promise<{ env: Record<string, string>; argv: string[]; log: string }> {
    iteration++; // its own run directory, so no recorded result of an earlier call is reused
    const repo = mkdtempSync(join(tmp, 'repo-'));
    cpSync(join(EXAMPLE_DIR, 'src'), join(repo, 'src'), { recursive: true });
    const acts = createActivities({ btEnv: { PATH: WORKER.PATH }, workerEnv: WORKER });
    await new MockActivityEnvironment().run(acts.runChangeAgent, {
      brief: { ctx: ctx(repo), goal: 'g', iteration, artifact: 'agent' as const, routes: [route], findings: [] },
      command: [process.execPath, agent, '--token', '$MY_AGENT_TOKEN'],
      timeoutMs: 60_000,
      agentEnv,
    });
    const log = readFileSync(join(tmp, 'runs', 'wf-env', `iter-${iteration}`, 'improve-agent', 'change-agent.log'), 'utf8');
    return { env: JSON.parse(readFileSync(join(repo, 'seen-env.json'), 'utf8')), argv: JSON.parse(readFileSync(join(repo, 'seen-argv.json'), 'utf8')), log };
  }

  it('sees no Braintrust, Temporal or cloud key and no canary, only PATH, HOME, locale and the brief variables', async () => {
    const { env, argv, log } = await run([]);
    for (const k of ['BRAINTRUST_API_KEY', 'TEMPORAL_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'FLYWHEEL_CANARY', 'MY_AGENT_TOKEN']) expect(env[k], k).toBeUndefined();
    expect(env.HOME).toBe('/home/worker');
    expect(env.FLYWHEEL_BRIEF_FILE).toMatch(/brief\.md$/);
    expect(env.FLYWHEEL_ROUTE).toBe('agent');
    // The reference in the command was expanded for the agent, and is kept as a reference in the log.
    expect(argv).toEqual(['--token', 'tok-abc-987']);
    expect(log).toContain('--token $MY_AGENT_TOKEN');
    expect(log).not.toContain('tok-abc-987');
  });

  it('sees a variable the user named with --agent-env', async () => {
    const { env } = await run(['FLYWHEEL_CANARY']);
    expect(env.FLYWHEEL_CANARY).toBe('canary-value-1f2e3d');
    expect(env.BRAINTRUST_API_KEY).toBeUndefined();
  });
});

describe('run files are owner-only', () => {
  it('writeFileAtomic writes 0600 files in 0700 directories; the handoff mode is explicit', async () => {
    const { statSync } = await import('node:fs');
    const { writeFileAtomic } = await import('../src/activities/files.js');
    const ref = await writeFileAtomic(join(tmp, 'perm', 'rows.jsonl'), '{"input":"secret"}\n');
    expect(statSync(ref.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(tmp, 'perm')).mode & 0o777).toBe(0o700);
    const pub = await writeFileAtomic(join(tmp, 'perm', 'summary.json'), '{}\n', 0o644);
    expect(statSync(pub.path).mode & 0o777).toBe(0o644);
  });
});

describe('worker warnings without --verbose', () => {
  it('are one line: level, message, activity, the error message — no stack, no escape codes', async () => {
    const { oneLineLog } = await import('../src/cli/run.js');
    const err = new Error('Braintrust project \u001b[31mx\u001b[0m was not found\n    at orient (src/activities/orient.ts:128:32)');
    const line = oneLineLog({ level: 'WARN', message: 'Activity failed', meta: { activityType: 'orient', error: err, attempt: 1 } });
    expect(line).toBe('[WARN] Activity failed: orient: Braintrust project x was not found');
  });
});
