/**
 * renderNarrative: `bt-flywheel-narrative.md` from the summary, per the seed's templates —
 * the PR body when something changed, else a concise no-change summary — with Mermaid
 * charts (score distributions, baseline vs new) that GitHub renders in a PR body. Pure.
 */
import type { Summary } from '../../schemas/summary.js';
import { cleanText, mdCode, mdText } from '../untrusted.js';

const round = (x: number): number => Math.round(x * 1000) / 1000;
const fmt = (x: number | null | undefined): string => (x == null ? '—' : String(round(x)));
const signed = (x: number | null | undefined): string => (x == null ? '—' : `${x >= 0 ? '+' : ''}${round(x)}`);
/** Mermaid strings are double-quoted; keep them free of quotes and newlines. */
const q = (s: string): string => `"${cleanText(s, 60, false).replace(/["`]/g, "'")}"`;
/** Markdown table cells: no pipes or newlines. */
const cell = (s: string): string => mdText(s);
const md = (label: string, url: string | null | undefined): string => (url ? `[${cell(label)}](${url})` : cell(label));

function binLabels(bins: number): string[] {
  return Array.from({ length: bins }, (_, i) => `${round(i / bins)}-${round((i + 1) / bins)}`);
}

/** A bar chart of one score's histogram. */
export function mermaidHistogram(title: string, histogram: readonly number[]): string {
  const max = Math.max(1, ...histogram);
  return [
    '```mermaid',
    'xychart-beta',
    `    title ${q(title)}`,
    `    x-axis [${binLabels(histogram.length).map(q).join(', ')}]`,
    `    y-axis "rows" 0 --> ${max}`,
    `    bar [${histogram.join(', ')}]`,
    '```',
  ].join('\n');
}

/** Baseline (bars) vs new (line) mean per score. */
export function mermaidDeltas(title: string, rows: ReadonlyArray<{ score: string; baseline: number | null; new: number | null }>): string {
  const usable = rows.filter((r) => r.baseline != null || r.new != null);
  const values = usable.flatMap((r) => [r.baseline ?? 0, r.new ?? 0]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(1, ...values);
  return [
    '```mermaid',
    'xychart-beta',
    `    title ${q(title)}`,
    `    x-axis [${usable.map((r) => q(r.score)).join(', ')}]`,
    `    y-axis "mean score" ${round(lo)} --> ${round(hi)}`,
    `    bar [${usable.map((r) => round(r.baseline ?? 0)).join(', ')}]`,
    `    line [${usable.map((r) => round(r.new ?? 0)).join(', ')}]`,
    '```',
  ].join('\n');
}

function chartsSection(s: Summary): string[] {
  const out: string[] = [];
  const deltas = s.verification.deltas.filter((d) => d.baseline != null && d.new != null);
  if (deltas.length) {
    out.push('#### Baseline vs new', '', '_Bars: baseline mean · line: new mean._', '', mermaidDeltas('Baseline vs new (mean score)', deltas), '');
  }
  if (s.score_distributions.length) {
    out.push('#### Score distributions', '');
    for (const d of s.score_distributions) {
      out.push(mermaidHistogram(`${d.score} (${d.source}, n=${d.n}, mean ${fmt(d.mean)})`, d.histogram), '');
    }
  }
  return out;
}

function actionsSection(s: Summary): string[] {
  const out = ['### Recommended Actions', ''];
  for (const a of s.recommended_actions) {
    out.push(
      `- **${mdText(a.title)}** — \`${a.type}\` (intent \`${a.intent}\`, target ${mdCode(a.target)}), severity **${a.severity}**, ${a.blocking ? '**blocking**' : 'not blocking'}, ${a.requires_human_review ? 'needs human review' : 'no review needed'}`,
      `  - Reason: ${cell(a.reason)}`,
      `  - Idempotency key: \`${a.idempotency_key}\``,
    );
  }
  return out;
}

function findingLines(f: Summary['findings_detail'][number]): string[] {
  const traces = f.example_traces.map((t) => md(t.trace_id, t.url)).join(', ');
  const out = [`- **${mdText(f.title)}** (${f.severity}) — ${mdText(f.detail)}. Window ${f.window.from} → ${f.window.to} (${f.window.days} days).${traces ? ` Traces: ${traces}.` : ''}`];
  if (f.query) out.push(`  - Query: ${mdCode(f.query.replace(/\s+/g, ' '), 2000)}`);
  return out;
}

/**
 * Findings that motivated a change or a route (warnings first) in full; informational ones folded into a
 * <details> block, so a reviewer reads the evidence behind the change before the background.
 */
function findingsSection(s: Summary, heading: string): string[] {
  if (!s.findings_detail.length) return [];
  const cited = new Set([...s.changes_detail.flatMap((c) => c.finding_ids), ...(s.diagnosis?.routes ?? []).flatMap((r) => r.finding_ids)]);
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const sorted = [...s.findings_detail].sort((a, b) => rank[a.severity] - rank[b.severity]);
  const main = sorted.filter((f) => cited.has(f.id) || f.severity !== 'info');
  const rest = sorted.filter((f) => !main.includes(f));
  const out = [heading, '', ...main.flatMap(findingLines)];
  if (rest.length) out.push('', `<details><summary>${rest.length} more finding(s) (informational)</summary>`, '', ...rest.flatMap(findingLines), '', '</details>');
  return out;
}

function planSection(s: Summary): string[] {
  if (!s.diagnosis) return [];
  const out = ['### Diagnosis', ''];
  s.diagnosis.routes.forEach((r, i) => {
    out.push(`${i + 1}. **${r.artifact}** — ${mdText(r.title)} (confidence ${r.confidence})`);
    for (const e of r.evidence) out.push(`   - ${mdText(e)}`);
    for (const c of r.counterevidence) out.push(`   - _Counterevidence:_ ${mdText(c)}`);
  });
  for (const n of s.diagnosis.notes) out.push(`- _Note:_ ${mdText(n)}`);
  return out;
}

function header(s: Summary): string {
  return `**Outcome:** \`${s.outcome}\` · severity **${s.severity}** · confidence **${s.confidence}** · ${s.blocking ? '**blocking**' : 'not blocking'} · project **${mdText(s.run.project.name)}** · goal “${mdText(s.goal)}” · ${s.run.iterations} iteration(s) · workflow ${mdCode(s.run.workflow_id)}`;
}

function scoreImpact(s: Summary): string[] {
  const v = s.verification;
  const newest = [...v.experiments].reverse().find((e) => e.run_mode === 'full') ?? v.experiments[v.experiments.length - 1] ?? null;
  // The deltas compare like with like: the unchanged agent on the same split when it was measured, else the pinned baseline.
  const before = newest ? [...v.experiments].reverse().find((e) => e.run_mode === 'baseline' && e.split === newest.split && e.iteration === newest.iteration) : undefined;
  const base = before ?? v.baseline;
  const out = ['### Score Impact', '', '| | Baseline | New |', '|---|---|---|'];
  out.push(`| Experiment | ${base ? md(base.name || base.id, base.url) : '—'} | ${newest ? md(newest.name || newest.id, newest.url) : '—'} |`);
  for (const d of v.deltas) out.push(`| ${cell(d.score)} avg | ${fmt(d.baseline)} | ${fmt(d.new)} (${signed(d.delta)}) |`);
  const regs = v.regressions.slice(0, 10).map((r) => md(`${r.trace_id ?? r.row_id} (${r.score} ${fmt(r.baseline)}→${fmt(r.new)})`, r.url));
  out.push(`| Regressions | — | ${v.regression_count === 0 ? 'none' : `${v.regression_count}: ${regs.join(', ')}${v.regression_count > regs.length ? ', …' : ''}`} |`);
  if (v.train_delta != null || v.validation_delta != null) {
    out.push('', `Train delta ${signed(v.train_delta)} · validation delta ${signed(v.validation_delta)}${v.overfitting ? ' — **overfitting: change not accepted**' : ''}.`);
  }
  if (before && v.baseline) out.push('', `Per-row regressions are checked against the pinned baseline ${md(v.baseline.name || v.baseline.id, v.baseline.url)}.`);
  const sick = v.scorer_health.filter((h) => !h.healthy);
  out.push(`Scorer health: ${sick.length ? sick.map((h) => h.detail).join('; ') : 'all scorers discriminating'}.`);
  return out;
}

/** Each iteration's attempt side by side: what it changed, what it measured, what was decided. */
function iterationsSection(s: Summary): string[] {
  const attempts = s.verification.attempts ?? [];
  if (!attempts.length) return [];
  const target = attempts.find((a) => a.target_score)?.target_score ?? null;
  const out = [
    '### Iterations',
    '',
    `| Iteration | Plan steps | Files changed | ${target ? `${cell(target)} Δ` : 'Target Δ'} (train / validation) | Regressed rows | Decision | Change |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const a of attempts) {
    const files = a.files.length ? a.files.slice(0, 6).map((f) => mdCode(f)).join(', ') + (a.files.length > 6 ? ', …' : '') : '—';
    const change = a.accepted ? 'accepted' : a.reverted_files.length ? `not accepted, reverted (${a.reverted_files.length} file(s))` : 'not accepted';
    out.push(
      `| ${a.iteration} | ${a.route_ids.map((r) => mdCode(r)).join(', ') || '—'} | ${files} | ${signed(a.train_delta)} / ${signed(a.validation_delta)} | ${a.regression_count} | \`${a.rule}\` → ${cell(a.next)} | ${change} |`,
    );
  }
  const why = attempts.filter((a) => a.why_not_accepted.length);
  if (why.length) {
    out.push('');
    for (const a of why) out.push(`- Iteration ${a.iteration} not accepted: ${a.why_not_accepted.map((w) => mdText(w)).join('; ')}`);
  }
  return out;
}

function envSource(n: NonNullable<Summary['run']['eval_env']>[number]): string {
  switch (n.source) {
    case 'dotenv':
      return '.env';
    case 'env_file':
      return `--env-file ${n.file ?? ''}`;
    case 'eval_env':
      return '--eval-env';
    case 'worker_env':
      return `worker environment, over ${n.file ?? 'a file'}`;
  }
}

function runSection(s: Summary): string[] {
  const out = ['### Run', '', `- Workflow ${mdCode(s.run.workflow_id)} run ${mdCode(s.run.run_id)}, ${s.run.mode} mode${s.run.mode_reason ? ` (${mdText(s.run.mode_reason)})` : ''}, ${s.run.started_at} → ${s.run.finished_at}`];
  if (s.run.project_source) out.push(`- Project resolved from ${mdText(s.run.project_source)}`);
  if (s.run.baseline) out.push(`- Baseline experiment ${mdCode(s.run.baseline.name)} (chosen by: ${mdText(s.run.baseline.chosen_by)})`);
  const evalEnv = s.run.eval_env ?? [];
  out.push(
    evalEnv.length
      ? `- \`bt eval\` environment (names only): ${evalEnv.map((n) => `\`${n.name}\` (${envSource(n)})`).join(', ')}`
      : '- `bt eval` environment: no variables beyond the flywheel\'s own (no `.env`, `--env-file` or `--eval-env`)',
  );
  for (const n of s.run.notes) out.push(`- _Note:_ ${mdText(n)}`);
  if (s.run.window) out.push(`- Evidence window: ${s.run.window.from} → ${s.run.window.to} (${s.run.window.days} days)`);
  for (const d of s.verification.decisions) out.push(`- Iteration ${d.iteration}: \`${d.rule}\` → ${d.next === 'route' ? `route ${mdText(String(d.route))}` : `exit ${d.outcome}`} — ${mdText(d.reason)}`);
  for (const g of s.gates) out.push(`- Gate ${mdCode(g.id)} (${g.kind}): ${g.decision} by ${mdText(g.by)} at ${g.at}${g.note ? ` — ${mdText(g.note)}` : ''}`);
  if (s.run.error) out.push(`- Error in ${s.run.error.phase}: ${mdText(s.run.error.message)}`);
  return out;
}

export function renderNarrative(s: Summary): string {
  const lines: string[] = [];
  if (s.changes_detail.length > 0) {
    lines.push('## Flywheel Optimization Run', '', '> Auto-generated by the bt-flywheel self-improvement cycle.', '', header(s), '', mdText(s.summary, 4000), '');
    lines.push('### What Changed', '');
    for (const c of s.changes_detail) {
      const what = [
        c.files.length ? `files ${c.files.map((f) => mdCode(f)).join(', ')}` : null,
        c.dataset_rows ? `${c.dataset_rows.upserted} rows into dataset ${mdCode(c.dataset_rows.dataset)} (train ${c.dataset_rows.train}, validation ${c.dataset_rows.validation}${c.dataset_rows.needs_label ? `, ${c.dataset_rows.needs_label} need labels` : ''})` : null,
        c.functions.length ? `functions ${c.functions.map((f) => `${mdCode(f.slug)} (${f.action})`).join(', ')}` : null,
      ].filter(Boolean);
      const reverted = c.reverted ? ` — **reverted** (not accepted: ${mdText(c.reverted.reason)})` : '';
      lines.push(`- **${c.artifact}** — ${mdText(c.description)}${what.length ? ` — ${what.join('; ')}` : ''}${reverted} _(motivated by ${c.finding_ids.map((f) => mdCode(f)).join(', ')}; iteration ${c.iteration}; applied by ${c.applied_by})_`);
    }
    lines.push('', ...findingsSection(s, '### Why These Changes'), '');
    lines.push(...scoreImpact(s), '', ...iterationsSection(s), '', ...chartsSection(s));
    lines.push(
      '### Reviewer Checklist',
      '',
      '- [ ] Score improvements are genuine (not overfitting to the eval dataset)',
      '- [ ] No regressions in non-targeted metrics',
      '- [ ] Dataset additions reflect real production failure patterns',
      '- [ ] Agent/prompt changes are intentional and appropriately scoped',
      '',
    );
    lines.push(...actionsSection(s), '', ...runSection(s), '');
  } else {
    lines.push(`## Flywheel Run — ${s.outcome.replace('_', ' ')}`, '', header(s), '', mdText(s.summary, 4000), '');
    lines.push(...findingsSection(s, '### Findings'), '');
    lines.push(...planSection(s), '');
    if (s.verification.experiments.length) lines.push(...scoreImpact(s), '');
    lines.push(...iterationsSection(s), '');
    lines.push(...chartsSection(s));
    lines.push(...actionsSection(s), '', ...runSection(s), '');
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}
