/**
 * Redaction of command lines for display and records (gate texts, the handoff, logs). Pure: the workflow
 * uses it too. People put tokens in command lines (`--token sk-…`, `API_KEY=… agent`); what looks like a
 * secret is shown as `<redacted>`. `$NAME` / `${NAME}` references are names, not values, and are kept: they
 * are expanded on the worker when the command runs (see src/child-env.ts).
 */
export const REDACTED = '<redacted>';

/** Flags whose value is a secret (`--token X`, `--api-key=X`, `-p X` is too ambiguous and is not covered). */
const SECRET_FLAG = /^--?[A-Za-z0-9_-]*(token|secret|password|passwd|api[-_]?key|apikey|auth|credential|private[-_]?key|access[-_]?key)[A-Za-z0-9_-]*$/i;
/** `NAME=value` where NAME says it is a secret. */
const SECRET_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|APIKEY|AUTH|CREDENTIAL|PRIVATE_?KEY|ACCESS_?KEY)[A-Za-z0-9_]*)=(.+)$/i;
/** Well-known token shapes. */
const TOKEN_SHAPES: readonly RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{16,}/, // OpenAI / Anthropic style
  /\bgh[pousr]_[A-Za-z0-9]{20,}/, // GitHub
  /\bgithub_pat_[A-Za-z0-9_]{20,}/,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/, // Slack
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\bAIza[0-9A-Za-z_-]{30,}/, // Google
  /\bbt-local-[A-Za-z0-9_-]{16,}/, // this project's local server key
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./, // JWT
];
const isReference = (s: string): boolean => /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$/.test(s);

/** A long run of token characters that mixes letters and digits (a random key), not a path or a word. */
function looksRandom(s: string): boolean {
  if (s.length < 32 || !/^[A-Za-z0-9_+/=-]+$/.test(s)) return false;
  return /[0-9]/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s);
}

/** Whether one argument (or the part after `=`) looks like a secret value. */
export function looksLikeSecret(value: string): boolean {
  if (!value || isReference(value)) return false;
  return TOKEN_SHAPES.some((re) => re.test(value)) || looksRandom(value);
}

/** The argv with secret-looking values replaced by `<redacted>`. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    if (a.startsWith('-') && eq > 0 && SECRET_FLAG.test(a.slice(0, eq))) {
      const v = a.slice(eq + 1);
      out.push(isReference(v) ? a : `${a.slice(0, eq)}=${REDACTED}`);
      continue;
    }
    if (a.startsWith('-') && eq < 0 && SECRET_FLAG.test(a) && i + 1 < argv.length) {
      const v = argv[i + 1]!;
      out.push(a, isReference(v) ? v : REDACTED);
      i++;
      continue;
    }
    const assign = SECRET_ASSIGNMENT.exec(a);
    if (assign && !isReference(assign[3]!)) {
      out.push(`${assign[1]}=${REDACTED}`);
      continue;
    }
    out.push(looksLikeSecret(a) ? REDACTED : a.replace(new RegExp(TOKEN_SHAPES.map((r) => r.source).join('|'), 'g'), REDACTED));
  }
  return out;
}

/** Indexes of arguments that redactArgv would hide (for a warning before a run starts). */
export function secretArgIndexes(argv: readonly string[]): number[] {
  const red = redactArgv(argv);
  return red.flatMap((r, i) => (r !== argv[i] ? [i] : []));
}

/** A command line for display: redacted, joined with spaces. */
export function commandText(argv: readonly string[]): string {
  return redactArgv(argv).join(' ');
}
