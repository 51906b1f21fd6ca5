/**
 * Text from production traces is written by the public: error messages, tool names, metadata, facet text,
 * inputs and outputs. Before it reaches a person or a coding agent it goes through one of these:
 *
 * - `cleanText`: no terminal escape sequences, no control or bidirectional-override characters, bounded length;
 * - `termSafe`: for terminal output (status, watch, gate screens): cleanText keeping newlines;
 * - `fenced`: a markdown fenced block that the content cannot close (for the change brief);
 * - `mdText`: inline markdown/HTML-inert text (for the narrative): no headings, links, images, emphasis, raw HTML.
 *
 * Pure (no Node imports): usable from workflow code too.
 */

/** CSI, OSC (terminated by BEL or ST), and other two-character escape sequences. */
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]/g;
/** C0 (except tab and newline), DEL, C1, and the bidirectional overrides/isolates that reorder displayed text. */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text without escapes or control characters, at most `max` characters (… when cut). */
export function cleanText(text: string, max = 2000, keepNewlines = true): string {
  let s = String(text).replace(ESCAPES, '').replace(CONTROLS, '');
  s = s.replace(/\r\n?/g, '\n');
  if (!keepNewlines) s = s.replace(/\s*\n\s*/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** For the terminal: what a person reads is what is there (no escape codes that move the cursor or recolour). */
export function termSafe(text: string, max = 4000): string {
  return cleanText(text, max, true);
}

/** A fenced block whose fence is longer than any backtick run inside, so the content cannot end it. */
export function fenced(text: string, info = 'text', max = 4000): string {
  const body = cleanText(text, max, true);
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${info}\n${body}\n${fence}`;
}

/**
 * Inline markdown that renders as the literal text: markdown punctuation escaped, HTML inert, one line.
 * (`lookup_order` renders as lookup_order; `![x](http://…)`, `<img …>` and `# Ignore …` render as text.)
 */
export function mdText(text: string, max = 1000): string {
  return cleanText(text, max, false)
    .replace(/[\\`*_[\]#!|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** An inline code span that the content cannot end (for names: files, ids, tools). */
export function mdCode(text: string, max = 300): string {
  const body = cleanText(text, max, false);
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const tick = '`'.repeat(longest + 1);
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${tick}${pad}${body}${pad}${tick}`;
}
