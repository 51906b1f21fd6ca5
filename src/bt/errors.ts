/**
 * Errors from the `bt` CLI, classified once (where they are raised) into a small set of kinds
 * that decide retry behaviour. See shared/reference/bt-cli.md §3 for exit codes and stderr.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { SqlBuildError } from './sql.js';

export type BtErrorKind =
  | 'missing_binary'
  | 'no_credentials'
  | 'auth'
  | 'usage'
  | 'not_found'
  | 'bad_query'
  | 'rate_limited'
  | 'network'
  | 'timeout'
  | 'cancelled'
  | 'schema'
  | 'eval_failed'
  | 'unknown';

/** Whether a Temporal retry can help, per kind. */
export const RETRYABLE: Readonly<Record<BtErrorKind, boolean>> = {
  missing_binary: false,
  no_credentials: false,
  auth: false,
  usage: false,
  not_found: false,
  bad_query: false,
  rate_limited: true,
  network: true,
  timeout: true,
  cancelled: true,
  schema: false,
  eval_failed: false,
  unknown: true,
};

/** `ApplicationFailure.type` per kind: 'Bt' + PascalCase(kind), e.g. `BtMissingBinary`, `BtBadQuery`. */
export function btFailureType(kind: BtErrorKind): string {
  return 'Bt' + kind.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
}

/** Every failure type a non-retryable kind produces: for `RetryPolicy.nonRetryableErrorTypes`. */
export const NON_RETRYABLE_FAILURE_TYPES: readonly string[] = (Object.keys(RETRYABLE) as BtErrorKind[])
  .filter((k) => !RETRYABLE[k])
  .map(btFailureType);

const ADVICE: Readonly<Record<BtErrorKind, string>> = {
  missing_binary:
    'Install dependencies (npm ci) so node_modules/.bin/bt exists, or set FLYWHEEL_BT_PATH to a bt 0.12 binary',
  no_credentials: 'Set BRAINTRUST_API_KEY (non-empty) in the environment given to the flywheel',
  auth: 'Check BRAINTRUST_API_KEY and BRAINTRUST_ORG_NAME; the key was rejected (HTTP 401/403)',
  usage: 'This is a bug in how bt was called or in the input passed to it; see stderrTail',
  not_found: 'Check the project, experiment, dataset or org name',
  bad_query: 'Fix the query; project_logs() queries need a created/_xact_id range filter under strict lint',
  rate_limited: 'Retry later; the server is rate limiting (HTTP 429)',
  network: 'Check BRAINTRUST_API_URL/BRAINTRUST_APP_URL and that the server is reachable; retrying may help',
  timeout: 'The command ran past its time limit and was killed; raise timeoutMs or narrow the work',
  cancelled: 'The command was cancelled and killed; nothing to do',
  schema: 'The output did not have the expected shape; check the bt version (0.12.0 expected) and the server',
  eval_failed: 'The eval runner failed before reporting results; fix the eval files (see stderrTail)',
  unknown: 'See stderrTail for details',
};

export interface BtErrorInit {
  kind: BtErrorKind;
  /** What failed, e.g. "bt sql". */
  what: string;
  /** Why, one short clause (bounded). */
  cause: string;
  command: readonly string[];
  exitCode?: number | undefined;
  stderrTail?: string;
  /** Parsed stdout when bt printed JSON and still failed (functions push). */
  output?: unknown;
  /** The underlying error (execa error, zod error), kept for debugging; never serialised. */
  cause_?: unknown;
}

const CAUSE_MAX = 500;

export class BtError extends Error {
  override readonly name = 'BtError';
  readonly kind: BtErrorKind;
  readonly retryable: boolean;
  /** argv (bt path first) without secrets, long arguments truncated. */
  readonly command: readonly string[];
  readonly exitCode: number | undefined;
  /** Last ~20 lines of stderr, ANSI stripped, at most ~2000 chars. */
  readonly stderrTail: string;
  readonly output: unknown;

  constructor(init: BtErrorInit) {
    const cause = truncate(init.cause.trim().replace(/\s*\n\s*/g, ' '), CAUSE_MAX).replace(/[.\s]+$/, '');
    super(`${init.what} failed: ${cause}. ${ADVICE[init.kind]}.`, init.cause_ === undefined ? {} : { cause: init.cause_ });
    this.kind = init.kind;
    this.retryable = RETRYABLE[init.kind];
    this.command = init.command;
    this.exitCode = init.exitCode;
    this.stderrTail = init.stderrTail ?? '';
    this.output = init.output;
  }

  /** A plain, bounded object safe to put in workflow history or logs. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      retryable: this.retryable,
      message: this.message,
      command: this.command,
      exitCode: this.exitCode ?? null,
      stderrTail: this.stderrTail,
    };
  }
}

export function isBtError(err: unknown): err is BtError {
  return err instanceof BtError;
}

/**
 * Maps an error to what a Temporal activity should throw: a `CancelledFailure` for `cancelled`
 * (so the worker reports the activity as cancelled), otherwise an `ApplicationFailure` with
 * `type: btFailureType(kind)`, non-retryable for the kinds in `NON_RETRYABLE_FAILURE_TYPES`.
 * Non-`BtError` values are returned unchanged (as an Error).
 */
export function toActivityFailure(err: unknown): Error {
  // A query that cannot be built from what the activity was given will not build on a retry either.
  if (err instanceof SqlBuildError) return ApplicationFailure.create({ message: err.message, type: 'SqlBuildError', nonRetryable: true });
  if (!(err instanceof BtError)) return err instanceof Error ? err : new Error(String(err));
  if (err.kind === 'cancelled') return new CancelledFailure(err.message, [err.toJSON()]);
  return ApplicationFailure.create({
    message: err.message,
    type: btFailureType(err.kind),
    nonRetryable: !err.retryable,
    details: [err.toJSON()],
    ...(err.kind === 'rate_limited' ? { nextRetryDelay: '15s' } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Output helpers

// CSI sequences (colours, cursor moves), OSC sequences (hyperlinks), and lone two-byte escapes.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

const BUG_LINE = /^If this seems like a bug, file an issue/;

/** The last `maxLines` non-empty lines of stderr, ANSI stripped, bounded to `maxChars` (keeping the end). */
export function stderrTail(stderr: string, maxLines = 20, maxChars = 2000): string {
  const lines = stripAnsi(stderr)
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0 && !BUG_LINE.test(l));
  const tail = lines.slice(-maxLines).join('\n');
  return tail.length <= maxChars ? tail : '…' + tail.slice(tail.length - maxChars + 1);
}

/** The first `error: …` line of stderr (without the prefix), or the first line. */
export function firstErrorLine(stderr: string): string {
  const lines = stripAnsi(stderr)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const err = lines.find((l) => l.startsWith('error:'));
  return (err ?? lines[0] ?? '').replace(/^error:\s*/, '');
}

// ---------------------------------------------------------------------------------------------
// Classification of a finished bt process (non-zero exit, not killed by us)

export interface Classified {
  kind: BtErrorKind;
  cause: string;
}

/** serde_json's syntax errors (as opposed to shape errors: missing field, invalid type, unknown variant). */
const TRUNCATED_JSON =
  /EOF while parsing|expected value at|trailing characters|expected `[,:\]}]`|key must be a string|control character|invalid escape|invalid number|error decoding response body/i;

/** bt's `reason: …` detail line of a parse failure, as "; <reason>", or ''. */
function jsonReason(text: string): string {
  const m = /^\s*reason:\s*(.+)$/m.exec(text);
  return m ? `; ${m[1]!.trim()}` : '';
}

/**
 * Classifies a non-zero bt exit from its exit code and (ANSI-stripped) stderr. Order matters:
 * specific signals (credentials, HTTP status) first, then exit-code families, then fallbacks.
 */
export function classifyExit(exitCode: number | undefined, stderr: string): Classified {
  const text = stripAnsi(stderr);
  const first = firstErrorLine(text);
  const status = /API error \(([1-5]\d\d)\)|request failed \(([1-5]\d\d)[ )]/.exec(text);
  const http = status ? Number(status[1] ?? status[2]) : undefined;
  const is = (kind: BtErrorKind, cause: string): Classified => ({ kind, cause });

  if (exitCode === 127 || exitCode === 126) return is('missing_binary', first || `exit code ${exitCode}`);
  if (/no login credentials/i.test(text)) return is('no_credentials', 'no login credentials found');
  if (http === 401 || http === 403) return is('auth', `the server rejected the credentials (HTTP ${http}): ${first}`);
  if (exitCode === 2) return is('usage', `bt rejected its arguments: ${first}`);
  if (http === 429) return is('rate_limited', `rate limited (HTTP 429): ${first}`);
  if (/Query blocked due to lint failures/i.test(text)) {
    const rules = text
      .split(/\r?\n/)
      .filter((l) => /^\s*-\s+/.test(l))
      .map((l) => l.replace(/^\s*-\s+/, '').trim());
    return is('bad_query', `query blocked by strict lint: ${rules.join('; ') || first}`);
  }
  if (http === 400 || (exitCode === 4 && /BTQL query failed|query failed/i.test(text)))
    return is('bad_query', `the server rejected the query (HTTP 400): ${first}`);
  if (/\bnot found\b/i.test(first)) return is('not_found', first);
  if (
    exitCode === 3 ||
    (http !== undefined && http >= 500) ||
    /network error|request failed$|error sending request|connection refused|ECONNREFUSED|ECONNRESET|ETIMEDOUT|fetch failed|failed after \d+ attempt/im.test(
      text,
    )
  )
    return is('network', `network or server error: ${first || `exit code ${exitCode}`}`);
  // A 2xx body that is not JSON at all (cut off, garbled by a proxy) is a transport fault and worth a retry;
  // well-formed JSON of the wrong shape (missing field, invalid type) is a version mismatch and is not.
  if (/failed to parse (login )?response|error decoding response body/i.test(text) && TRUNCATED_JSON.test(text))
    return is('network', `the server's response was cut off or is not JSON: ${first}${jsonReason(text)}`);
  if (/failed to parse response/i.test(text)) return is('schema', `bt could not parse the server response: ${first}${jsonReason(text)}`);
  if (
    exitCode === 4 ||
    /does not match the supported record shape|invalid JSON|duplicate id|missing id|is required/i.test(text)
  )
    return is('usage', first);
  if (/eval runner exited|Evaluator .* failed/i.test(text)) return is('eval_failed', first);
  return is('unknown', first ? `exit code ${exitCode}: ${first}` : `exit code ${exitCode} with no error output`);
}
