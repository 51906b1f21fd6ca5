#!/usr/bin/env node
// Scripted change agents for the routing scenarios (test/flywheel-e2e-routing.test.ts). The flywheel runs this in
// the working copy of the support-agent example, with the brief on stdin and the artifact in FLYWHEEL_ROUTE.
// Every mode leaves the measurement and instrumentation artifacts alone (a team whose change agent only edits
// agent code), so those routes' problems stay unaddressed:
//   agent-only     agent briefs go to the example's change agent (both planted defects fixed)
//   tools-only     agent briefs fix only the lookup_order defect (the returns/refunds defect stays)
//   fix-and-break  the example's fix, plus a new crash on every billing question
// Usage: node scripted-change-agent.mjs <mode> < brief.md
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLE_CHANGE_AGENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'support-agent', 'change-agent.mjs');
const BILLING_CRASH = 'BillingTemplateError: the billing answer template failed to render';

const mode = process.argv[2];
const cwd = process.cwd();
const brief = readFileSync(0, 'utf8');

function exampleAgent(input) {
  const r = spawnSync(process.execPath, [EXAMPLE_CHANGE_AGENT, cwd], { input, encoding: 'utf8' });
  process.stdout.write(r.stdout ?? '');
  if (r.status !== 0) {
    process.stderr.write(r.stderr ?? '');
    process.exit(r.status ?? 1);
  }
}

if (process.env.FLYWHEEL_ROUTE !== 'agent') {
  console.log(`no change (${process.env.FLYWHEEL_ROUTE ?? 'unknown'} brief: this agent only edits agent code)`);
} else if (mode === 'agent-only') {
  exampleAgent(brief);
} else if (mode === 'tools-only') {
  exampleAgent('lookup_order fails for 8-digit and lower-case order ids');
} else if (mode === 'fix-and-break') {
  exampleAgent(brief);
  const file = join(cwd, 'src', 'agent.ts');
  const text = readFileSync(file, 'utf8');
  const anchor = '  const category = classify(question);\n';
  if (!text.includes(anchor)) {
    process.stderr.write('fix-and-break: anchor not found in src/agent.ts\n');
    process.exit(3);
  }
  writeFileSync(file, text.replace(anchor, `${anchor}  if (category === 'billing') throw new Error(${JSON.stringify(BILLING_CRASH)});\n`));
  console.log('src/agent.ts: billing answers now go through a template renderer');
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
