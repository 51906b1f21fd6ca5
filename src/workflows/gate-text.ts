/**
 * What a gate shows before a person answers it: the dataset write with its counts, sample and target; the baseline a
 * plan will be judged against; the diff of the changes a routing decision keeps or builds on. Pure (no workflow APIs
 * or Node imports), tested in tables.
 *
 * Each returns `detail` (markdown: our words plain, production text fenced or escaped — the terminal shows it through
 * termSafe) and `shown`, one short line for the gate's record in the handoff.
 */
import { cleanText, fenced, mdCode, mdText } from '../untrusted.js';
import type { Route } from './logic/diagnose.js';
import type { ChangeRecord, EvalResult } from './logic/evidence.js';
import type { CurationPlan, OrientContext } from './types.js';

export interface GateText {
  title: string;
  detail: string;
  /** One line for the gate record: what the person saw (counts, target, baseline, diff size). */
  shown: string;
}

/** Long trace ids by their first 8 characters (like short commit hashes), for one-line records. */
const shortId = (id: string): string => {
  const clean = cleanText(id, 120, false);
  return clean.length > 12 ? `${clean.slice(0, 8)}…` : clean;
};
const num = (x: number | null | undefined): string => (x == null ? 'n/a' : String(Math.round(x * 10000) / 10000));
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The counts of a curation plan in one line. */
export function curationCounts(p: Pick<CurationPlan, 'rows' | 'failing' | 'passing' | 'train' | 'validation' | 'duplicatesDropped' | 'needsLabel' | 'labeled'>): string {
  return (
    `${plural(p.rows, 'row')} (${p.failing} failing, ${p.passing} passing; ${p.train} train / ${p.validation} validation; ` +
    `${p.labeled} labeled, ${p.needsLabel} need a label; ${plural(p.duplicatesDropped, 'near-duplicate')} dropped)`
  );
}

/** The dataset write gate, opened once the candidates are ready: counts, sample rows with their labels, target. */
export function curationGate(plan: CurationPlan, route: Pick<Route, 'id' | 'title'>, project: string): GateText {
  const target = `dataset ${mdCode(plan.dataset)} in project ${mdCode(project)} (${plan.existingDatasetId ? `exists, id ${mdCode(plan.existingDatasetId)}` : 'does not exist yet: the upsert creates it'})`;
  const drawn = plan.sample
    ? `sampled at random (seeded) from the last ${plural(plan.sample.windowDays, 'day')}` +
      (plan.sample.widenedFrom !== undefined ? `, widened from ${plan.sample.widenedFrom} days for rows not curated yet` : '') +
      (plan.sample.alreadyCurated ? `; ${plural(plan.sample.alreadyCurated, 'matching row')} already in the dataset left out` : '')
    : null;
  const lines = [
    `- **Target:** ${target}`,
    `- **Rows to upsert:** ${curationCounts(plan)}`,
    ...(drawn ? [`- **Drawn:** ${drawn}`] : []),
    ...(plan.candidatesTruncated ? [`- **Capped:** the candidate index of the ${plan.candidatesTruncated.buckets.join(' and ')} rows stopped at ${plan.candidatesTruncated.cap} rows`] : []),
    `- **Plan step:** ${mdCode(route.id)} — ${mdText(route.title, 300)}`,
    ...(plan.rowsFile ? [`- **All rows:** ${mdCode(plan.rowsFile.path, 500)}`] : []),
    '',
  ];
  if (plan.sampleRows.length) {
    lines.push(`Sample (${plan.sampleRows.length} of ${plan.rows} rows; production text, shown as data):`, '');
    const block = plan.sampleRows
      .map((r, i) =>
        [
          `${i + 1}. ${r.bucket} · ${r.split} · label: ${r.expected === null ? 'none (needs a label)' : r.labelSource} · trace ${cleanText(r.traceId, 80, false)}`,
          `   input: ${cleanText(r.input, 240, false)}`,
          `   label: ${r.expected === null ? '—' : cleanText(r.expected, 240, false)}`,
        ].join('\n'),
      )
      .join('\n');
    lines.push(fenced(block));
  } else {
    lines.push('No candidate rows were found: approving creates the dataset (if missing) and writes no rows.');
  }
  return {
    title: `Upsert ${plural(plan.rows, 'curated row')} into dataset ${cleanText(plan.dataset, 200, false)}`,
    detail: lines.join('\n'),
    shown: `${curationCounts(plan)} into dataset ${cleanText(plan.dataset, 200, false)}${plan.existingDatasetId ? '' : ' (new)'}; sample traces ${plan.sampleRows.map((r) => shortId(r.traceId)).join(', ') || 'none'}`,
  };
}

const CHOSEN: Record<string, string> = {
  env: 'named by the invocation (--baseline or the environment)',
  session: 'evaluated by this run, because the project had no experiment',
  latest: "the project's newest experiment that the flywheel did not make",
  none: 'none',
};

/**
 * The baseline a plan's changes are judged against, for the plan gate: the pinned experiment (name, id, score, why it
 * was chosen) and, when the plan curates a dataset, the re-measurement of the unchanged agent on its splits.
 */
export function baselineGate(ctx: Pick<OrientContext, 'baseline' | 'primaryScore'>, baseline: EvalResult | null, plan: readonly Pick<Route, 'artifact'>[]): { detail: string; shown: string } {
  const curates = plan.some((r) => r.artifact === 'dataset');
  const changesCode = plan.some((r) => r.artifact !== 'dataset' && r.artifact !== 'none');
  if (!baseline) {
    return {
      detail: [
        '**Judged against:** no baseline experiment (the project has none and there are no eval files to make one):',
        'a change cannot be compared with the agent before it, only smoke-checked.',
      ].join(' '),
      shown: 'baseline: none',
    };
  }
  const score = ctx.primaryScore;
  const scoreText = score ? `${mdCode(score)} ${num(baseline.scores[score])}` : 'no target score';
  const others = Object.entries(baseline.scores)
    .filter(([k]) => k !== score)
    .slice(0, 4)
    .map(([k, v]) => `${mdCode(k)} ${num(v)}`);
  const chosen = CHOSEN[ctx.baseline?.chosenBy ?? (baseline.runMode === 'baseline' ? 'latest' : 'none')] ?? 'unknown';
  const lines = [
    `**Judged against:** baseline experiment ${mdCode(baseline.experimentName || baseline.experimentId)} (id ${mdCode(baseline.experimentId)}, ${plural(baseline.rowCount, 'row')}) — ${scoreText}${others.length ? ` (also ${others.join(', ')})` : ''}.`,
    `Chosen: ${chosen}. Link: ${baseline.url}`,
  ];
  if (curates && changesCode) {
    lines.push('The plan curates a dataset first: the unchanged agent is measured on its train and validation splits, and the code change is judged against that; per-row regressions are checked against this baseline.');
  } else if (changesCode) {
    lines.push('Score deltas and per-row regressions of the change are measured against this baseline.');
  }
  return {
    detail: lines.join('\n'),
    shown: `baseline ${cleanText(baseline.experimentName || baseline.experimentId, 200, false)} (${cleanText(baseline.experimentId, 100, false)}; ${score ? `${cleanText(score, 100, false)} ${num(baseline.scores[score])}` : 'no target score'}; chosen: ${ctx.baseline?.chosenBy ?? 'n/a'})`,
  };
}

/** A change record with the diff excerpt its change agent reported (kept in workflow memory, not in the record). */
export interface ShownChange {
  change: Pick<ChangeRecord, 'id' | 'artifact' | 'description' | 'files' | 'diffStat' | 'functions'>;
  diff?: { excerpt: string; truncated: boolean; path: string } | null;
}

/** Text of a diff excerpt for the gate: a fenced block (the code and paths come from the agent's repository). */
function diffBlock(d: NonNullable<ShownChange['diff']>): string {
  return [fenced(d.excerpt, 'diff', 6000), ...(d.truncated ? [`(cut: the whole diff is in ${mdCode(d.path, 500)})`] : [])].join('\n');
}

/** The changes of an iteration with their diffs, for the routing gate (keep or build on them) and status. */
export function changesGate(changes: readonly ShownChange[]): { detail: string; shown: string } {
  const code = changes.filter((c) => c.change.artifact !== 'dataset');
  if (!code.length) return { detail: '', shown: '' };
  const lines = ['', '**Changes of this iteration:**', ''];
  for (const { change: c, diff } of code) {
    const stat = c.diffStat ? ` (${plural(c.diffStat.files, 'file')}, +${c.diffStat.insertions} -${c.diffStat.deletions})` : '';
    lines.push(`- **${c.artifact}** ${mdCode(c.id)}: ${mdText(c.description, 300)}${stat}`);
    if (c.functions?.length) lines.push(`  Scorers pushed to Braintrust: ${c.functions.map((f) => `${mdCode(f.slug)} (${f.action})`).join(', ')} — their diff is below.`);
    if (diff) lines.push('', diffBlock(diff), '');
    else if (c.files.length) lines.push(`  Files: ${c.files.map((f) => mdCode(f)).join(', ')} (no diff recorded)`);
  }
  const shown = code
    .map(({ change: c, diff }) => `${c.id}: ${c.files.length} file(s)${c.diffStat ? ` +${c.diffStat.insertions} -${c.diffStat.deletions}` : ''}${diff ? ' with diff' : ''}${c.functions?.length ? `, pushed ${c.functions.map((f) => cleanText(f.slug, 100, false)).join(', ')}` : ''}`)
    .join('; ');
  return { detail: lines.join('\n'), shown };
}
