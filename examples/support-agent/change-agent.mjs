#!/usr/bin/env node
// A scripted, deterministic "change agent" for the support-agent example.
//
// The flywheel runs it inside a working copy of examples/support-agent with a
// markdown brief on stdin. It looks for the two planted defects in the brief and,
// for each one it recognizes, applies a targeted text edit to the defect file:
//   (a) returns/refund questions escalated to the generic hand-off -> src/policy.ts
//   (b) lookup_order rejecting 8-digit / lower-case order ids       -> src/tools.ts
// It prints what it changed and exits 0; with nothing recognized (or nothing left
// to fix) it prints "no change" and exits 0. It never runs git. Idempotent.
//
// Usage: node change-agent.mjs [agent-root-dir] < brief.md
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

function readStdin() {
  if (process.stdin.isTTY) return '';
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

function findSrcDir(root) {
  for (const candidate of [join(root, 'src'), join(root, 'examples', 'support-agent', 'src'), root]) {
    if (existsSync(join(candidate, 'policy.ts')) || existsSync(join(candidate, 'tools.ts'))) return candidate;
  }
  return undefined;
}

const MENTIONS_RETURNS = /\b(returns?|refunds?|escalat\w*|hand-?off|contact support|correct_category)\b/i;
const MENTIONS_TOOL = /\b(lookup_order|tool[ _-]?errors?|no_tool_error|OrderLookupError|order[ _-]?ids?|8-digit|lower-?case)\b/i;

/** (a) Drop 'refund'/'return' from ESCALATION_KEYWORDS in policy.ts. */
function fixEscalation(file) {
  if (!existsSync(file)) return { changed: false, note: `skip (a): ${file} not found` };
  const text = readFileSync(file, 'utf8');
  const re = /(export const ESCALATION_KEYWORDS(?:\s*:\s*[^=]+)?=\s*\[)([^\]]*)(\];)/;
  const m = re.exec(text);
  if (!m) return { changed: false, note: 'skip (a): ESCALATION_KEYWORDS not found' };
  const items = [...m[2].matchAll(/(['"])(.*?)\1/g)].map((x) => x[2]);
  const kept = items.filter((k) => !/^(refund|return)/i.test(k.trim()));
  if (kept.length === items.length) return { changed: false, note: '(a) already fixed: ESCALATION_KEYWORDS has no refund/return keywords' };
  const removed = items.filter((k) => !kept.includes(k));
  const next = text.replace(re, `$1${kept.map((k) => `'${k.replace(/'/g, "\\'")}'`).join(', ')}$3`);
  writeFileSync(file, next);
  return {
    changed: true,
    note: `(a) ${file}: removed ${removed.map((k) => `'${k}'`).join(', ')} from ESCALATION_KEYWORDS so returns/refund questions are routed to the returns policy instead of the generic hand-off`,
  };
}

/** (b) Accept 6- or 8-digit ids and normalize case in tools.ts. */
function fixOrderLookup(file) {
  if (!existsSync(file)) return { changed: false, note: `skip (b): ${file} not found` };
  let text = readFileSync(file, 'utf8');
  const notes = [];
  const oldPattern = 'export const ORDER_ID_PATTERN = /^ORD-\\d{6}$/;';
  if (text.includes(oldPattern)) {
    text = text.replace(oldPattern, 'export const ORDER_ID_PATTERN = /^ORD-(\\d{6}|\\d{8})$/;');
    notes.push('ORDER_ID_PATTERN now accepts 6- and 8-digit order numbers');
  }
  const normRe = /(export function normalizeOrderId\(raw: string\): string \{\s*)return raw;/;
  if (normRe.test(text)) {
    text = text.replace(normRe, '$1return raw.trim().toUpperCase();');
    notes.push('normalizeOrderId trims and upper-cases the id (ord-123456 -> ORD-123456)');
  }
  if (notes.length === 0) return { changed: false, note: '(b) already fixed: lookup_order validation accepts 8-digit and lower-case ids' };
  writeFileSync(file, text);
  return { changed: true, note: `(b) ${file}: ${notes.join('; ')}` };
}

function main() {
  const root = resolve(process.argv[2] ?? process.cwd());
  const brief = readStdin();
  const src = findSrcDir(root);
  const results = [];
  if (!src) {
    console.log(`no change (no support-agent src/ found under ${root})`);
    return;
  }
  if (MENTIONS_RETURNS.test(brief)) results.push(fixEscalation(join(src, 'policy.ts')));
  if (MENTIONS_TOOL.test(brief)) results.push(fixOrderLookup(join(src, 'tools.ts')));
  for (const r of results) console.log(r.note);
  const changed = results.filter((r) => r.changed).length;
  console.log(changed > 0 ? `changed ${changed} file(s)` : 'no change');
}

main();
