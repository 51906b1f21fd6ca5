/** Error classification from (exit code, stderr) as bt 0.12.0 prints them, and the Temporal mapping. */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  BtError,
  btFailureType,
  classifyExit,
  NON_RETRYABLE_FAILURE_TYPES,
  stderrTail,
  stripAnsi,
  toActivityFailure,
  type BtErrorKind,
} from '../src/bt/errors.js';
import { btEnvFrom, buildChildEnv, redactArgv } from '../src/bt/run.js';
import { fieldPath, SqlBuildError } from '../src/bt/sql.js';

const BUG = '\nIf this seems like a bug, file an issue at https://github.com/braintrustdata/bt/issues/new and include `bt --version`.';

describe('classifyExit', () => {
  const table: [string, number | undefined, string, BtErrorKind][] = [
    ['no credentials', 1, 'error: no login credentials found; set BRAINTRUST_API_KEY, pass --api-key' + BUG, 'no_credentials'],
    ['401 at login', 2, 'error: API error (401): {"Message":"bad"}', 'auth'],
    ['403 from api', 2, 'error: request failed (403 Forbidden): nope', 'auth'],
    ['clap error', 2, "error: unexpected argument '--bogus' found\n\n  tip: …\n\nUsage: bt sql --json [QUERY]", 'usage'],
    ['bad sql', 4, 'error: request failed (400 Bad Request): {"Code":"BadRequest","Message":"Parse error"}', 'bad_query'],
    ['lint block', 4, 'error: Query blocked due to lint failures\n\n  - No filters available for segment elimination.', 'bad_query'],
    ['view 400', 4, "error: BTQL query failed: select: * | from: project_logs('x') spans", 'bad_query'],
    ['view 500', 3, "error: BTQL query failed: select: * | from: project_logs('x') spans", 'network'],
    ['429', 4, 'error: request failed (429 Too Many Requests): slow', 'rate_limited'],
    ['429 on upload', 1, "error: dataset upload failed: API error (429): slow" + BUG, 'rate_limited'],
    ['500', 3, 'error: request failed (500 Internal Server Error): boom', 'network'],
    ['500 on upload (exit 1)', 1, 'error: dataset upload failed: API error (500): boom' + BUG, 'network'],
    ['bt timeout', 3, 'error: request failed', 'network'],
    ['refused', 3, 'error: network error: error sending request for url (http://127.0.0.1:9/api/apikey/login)', 'network'],
    ['sync retries exhausted', 1, 'error: BTQL request failed after 5 attempt(s)' + BUG, 'network'],
    ['not found', 4, "error: experiment 'nope' not found", 'not_found'],
    ['unknown org', 4, "error: invalid configuration: Organization 'x' not found", 'not_found'],
    ['project required', 4, 'error: --project required (or set BRAINTRUST_DEFAULT_PROJECT)', 'usage'],
    ['bad record', 1, 'error: dataset record 1 does not match the supported record shape: unknown field `output`' + BUG, 'usage'],
    ['parse failure', 1, 'error: failed to parse response from POST /btql\n  reason: missing field `schema`' + BUG, 'schema'],
    // Bodies cut off in transit (the local server's `malformed` fault; bt 0.12.0's real output) are transport faults.
    ['truncated body', 1, 'error: failed to parse response from POST /btql\n  target: bt::sql::SqlResponse\n  JSON path: data[0].id\n  reason: EOF while parsing a string at line 1 column 16\n  status: 200 OK' + BUG, 'network'],
    ['truncated login body', 1, 'error: API error (200): Failed to parse login response: error decoding response body' + BUG, 'network'],
    ['runner failed', 1, '\u001b[31mProcessing 1 evaluator...\u001b[0m\nerror: eval runner exited with status exit status: 1' + BUG, 'eval_failed'],
    ['shell could not run', 127, "/usr/bin/env: 'node': No such file or directory", 'missing_binary'],
    ['unrecognised', 1, 'error: something new', 'unknown'],
  ];

  it.each(table)('%s → %s', (_name, exit, stderr, kind) => {
    expect(classifyExit(exit, stderr).kind).toBe(kind);
  });
});

describe('BtError', () => {
  it('message has the form "<what> failed: <cause>. <advice>." and bounds the cause', () => {
    const err = new BtError({ kind: 'bad_query', what: 'bt sql', cause: 'x'.repeat(10_000) + '\nsecond line', command: ['bt', 'sql'], exitCode: 4 });
    expect(err.message).toMatch(/^bt sql failed: x+…\. Fix the query; .+\.$/);
    expect(err.message.length).toBeLessThan(700);
    expect(err.retryable).toBe(false);
    expect(err.toJSON()).toMatchObject({ kind: 'bad_query', exitCode: 4, command: ['bt', 'sql'] });
  });

  it('retryable per kind', () => {
    const r = (kind: BtErrorKind) => new BtError({ kind, what: 'bt x', cause: 'c', command: [] }).retryable;
    expect(['rate_limited', 'network', 'timeout', 'cancelled', 'unknown'].every((k) => r(k as BtErrorKind))).toBe(true);
    expect(['missing_binary', 'no_credentials', 'auth', 'usage', 'not_found', 'bad_query', 'schema', 'eval_failed'].some((k) => r(k as BtErrorKind))).toBe(false);
  });
});

describe('toActivityFailure', () => {
  const make = (kind: BtErrorKind) => new BtError({ kind, what: 'bt sql', cause: 'c', command: ['bt', 'sql'], stderrTail: 'tail' });

  it('non-retryable kinds become non-retryable ApplicationFailures with a fixed type', () => {
    const f = toActivityFailure(make('auth'));
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f).toMatchObject({ type: 'BtAuth', nonRetryable: true });
    expect((f as ApplicationFailure).details?.[0]).toMatchObject({ kind: 'auth', stderrTail: 'tail' });
    expect(toActivityFailure(make('missing_binary'))).toMatchObject({ type: 'BtMissingBinary', nonRetryable: true });
  });

  it('transient kinds stay retryable; rate limits back off', () => {
    expect(toActivityFailure(make('network'))).toMatchObject({ type: 'BtNetwork', nonRetryable: false });
    expect(toActivityFailure(make('rate_limited'))).toMatchObject({ type: 'BtRateLimited', nonRetryable: false, nextRetryDelay: '15s' });
  });

  it('a query that cannot be built is not retried (the same input builds the same refusal)', () => {
    let err: unknown;
    try {
      fieldPath('scores', null as unknown as string);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SqlBuildError);
    expect(toActivityFailure(err)).toMatchObject({ type: 'SqlBuildError', nonRetryable: true, message: 'SQL identifier must be a string' });
  });

  it('cancelled becomes a CancelledFailure; other errors pass through', () => {
    expect(toActivityFailure(make('cancelled'))).toBeInstanceOf(CancelledFailure);
    const plain = new Error('x');
    expect(toActivityFailure(plain)).toBe(plain);
    expect(toActivityFailure('str')).toBeInstanceOf(Error);
  });

  it('failure type names', () => {
    expect(btFailureType('bad_query')).toBe('BtBadQuery');
    expect(NON_RETRYABLE_FAILURE_TYPES).toEqual(
      expect.arrayContaining(['BtMissingBinary', 'BtNoCredentials', 'BtAuth', 'BtUsage', 'BtNotFound', 'BtBadQuery', 'BtSchema', 'BtEvalFailed']),
    );
    expect(NON_RETRYABLE_FAILURE_TYPES).not.toContain('BtNetwork');
  });
});

describe('output helpers', () => {
  it('stripAnsi removes colours, cursor moves and hyperlinks', () => {
    expect(stripAnsi('\u001b[1m\u001b[32m▶\u001b[0m run \u001b]8;;http://x\u0007link\u001b]8;;\u0007\u001b[2K')).toBe('▶ run link');
  });

  it('stderrTail keeps the last 20 lines, at most 2000 chars, without the bug footer', () => {
    const many = Array.from({ length: 50 }, (_, i) => `\u001b[31mline ${i}\u001b[0m`).join('\n') + BUG;
    const tail = stderrTail(many);
    expect(tail.split('\n')).toHaveLength(20);
    expect(tail.startsWith('line 30')).toBe(true);
    expect(tail).not.toContain('If this seems like a bug');
    expect(stderrTail('z'.repeat(10_000)).length).toBe(2000);
  });
});

describe('environment and argv', () => {
  it('drops empty BRAINTRUST_* values and undefined, and makes node findable', () => {
    const env = buildChildEnv({ BRAINTRUST_API_KEY: '', BRAINTRUST_ORG_NAME: '  ', HOME: '/h', X: undefined });
    expect(env).not.toHaveProperty('BRAINTRUST_API_KEY');
    expect(env).not.toHaveProperty('BRAINTRUST_ORG_NAME');
    expect(env).not.toHaveProperty('X');
    expect(env.HOME).toBe('/h');
    expect(env.PATH).toBeTruthy();
  });

  it('btEnvFrom forwards only the listed variables', () => {
    const env = btEnvFrom({ BRAINTRUST_API_KEY: 'k', BT_DATASETS_ROWS: '[]', SECRET: 's', HOME: '/h', BRAINTRUST_ORG_NAME: '' });
    expect(env).toEqual({ BRAINTRUST_API_KEY: 'k', HOME: '/h' });
  });

  it('redactArgv hides --api-key and truncates long arguments', () => {
    const argv = redactArgv('/bt', ['sql', '--api-key', 'sk-1', '--api-key=sk-2', 'q'.repeat(1000)]);
    expect(argv.slice(0, 5)).toEqual(['/bt', 'sql', '--api-key', '<redacted>', '--api-key=<redacted>']);
    expect(argv[5]!.length).toBe(200);
  });
});
