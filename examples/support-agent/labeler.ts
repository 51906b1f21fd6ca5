/**
 * The example project's labeler: the flywheel runs it (`--labeler "tsx examples/support-agent/labeler.ts"`)
 * with curated rows as a JSON array on stdin ({ id, input, output, metadata }) and reads back
 * [{ id, expected }] — the ground truth a person would write for each question (null when it cannot tell).
 * It never looks at the production output, so bad output can never become `expected`.
 */
import { labelQuestion } from './questions.js';

interface Row {
  id: string;
  input: unknown;
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const rows = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as Row[];
const out = rows.map((r) => {
  const q = typeof r.input === 'string' ? r.input : (r.input as { question?: unknown } | null)?.question;
  return { id: r.id, expected: typeof q === 'string' ? (labelQuestion(q) ?? null) : null };
});
process.stdout.write(JSON.stringify(out));
