/**
 * The eval environment: the .env parser (table), precedence across .env / --env-file / the worker's
 * environment, reserved names, errors that name files and lines but never values, and redaction.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EvalEnvError, evalEnvSpec, parseDotenv, redactValues, resolveEvalEnv } from '../src/eval-env.js';

const parse = (text: string) => Object.fromEntries(parseDotenv(text).map((e) => [e.name, e.value]));

describe('parseDotenv', () => {
  it.each<[string, string, Record<string, string>]>([
    ['plain', 'A=1\nB=two words', { A: '1', B: 'two words' }],
    ['blank lines and comments', '\n# a comment\n  # indented comment\nA=1\n\n', { A: '1' }],
    ['export prefix', 'export A=1\nexport\tB="x"', { A: '1', B: 'x' }],
    ['spaces around =', 'A = 1\nB\t=\t2  ', { A: '1', B: '2' }],
    ['empty values', 'A=\nB=""\nC=\'\'\nD= # only a comment', { A: '', B: '', C: '', D: '' }],
    ['inline comment needs whitespace before #', 'A=1 # one\nB=a#b\nC=x\t#c', { A: '1', B: 'a#b', C: 'x' }],
    ['single quotes are literal', "A='a \\n $B # c'", { A: 'a \\n $B # c' }],
    ['double quotes: escapes', 'A="l1\\nl2\\tt \\"q\\" back\\\\slash \\$HOME \\x"', { A: 'l1\nl2\tt "q" back\\slash $HOME \\x' }],
    ['double quotes keep # and spaces', 'A="  a # b  " # comment', { A: '  a # b  ' }],
    ['backticks are literal', 'A=`it\'s "x"`', { A: 'it\'s "x"' }],
    ['multi-line quoted value', 'A="line1\nline2"\nB=2', { A: 'line1\nline2', B: '2' }],
    ['no variable expansion', 'A=1\nB=$A\nC="${A}x"', { A: '1', B: '$A', C: '${A}x' }],
    ['later definition wins', 'A=1\nA=2', { A: '2' }],
    ['CRLF and BOM', '\uFEFFA=1\r\nB="2"\r\n', { A: '1', B: '2' }],
    ['= inside a value', 'URL=postgres://u:p@h/db?a=b', { URL: 'postgres://u:p@h/db?a=b' }],
    ['a name that starts with export', 'exported=1', { exported: '1' }],
  ])('%s', (_label, text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it('reports the line of each entry (a multi-line value counts its lines)', () => {
    expect(parseDotenv('# c\nA="x\ny"\nB=1').map((e) => [e.name, e.line])).toEqual([
      ['A', 2],
      ['B', 4],
    ]);
  });

  it.each<[string, string, RegExp]>([
    ['no =', 'JUST_A_NAME', /f\.env:1: expected '=' after JUST_A_NAME/],
    ['bad name', 'A=1\n1ABC=2', /f\.env:2: expected NAME=value/],
    ['unterminated double quote', 'A=1\nSECRET="s3cr3t-value\n', /f\.env:2: unterminated double-quoted value of SECRET/],
    ['unterminated single quote', "K='abc", /f\.env:1: unterminated single-quoted value of K/],
    ['text after a quoted value', 'K="abc"def', /f\.env:1: unexpected text after the quoted value of K/],
  ])('error: %s (file and line, never the value)', (_label, text, message) => {
    let err: unknown;
    try {
      parseDotenv(text, 'f.env');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EvalEnvError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toMatch(/s3cr3t|abc/);
  });
});

describe('resolveEvalEnv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eval-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '.env'), 'FROM_DOTENV=d\nSHARED=from-dotenv\nSHADOWED=file\nBRAINTRUST_API_KEY=other-key\nPATH=/nope\n');
  writeFileSync(join(dir, 'ci.env'), 'SHARED=from-ci\nFROM_CI=c\n');

  it('.env < --env-file (in order) < the worker environment; flywheel-controlled names are ignored', () => {
    const spec = evalEnvSpec({ agentDir: dir, envFiles: [join(dir, 'ci.env')], evalEnv: ['PASSED'] });
    const { values, record } = resolveEvalEnv(spec, { SHADOWED: 'shell', PASSED: 'p', UNRELATED: 'u' }, ['PATH', 'HOME']);
    expect(values).toEqual({ FROM_DOTENV: 'd', SHARED: 'from-ci', SHADOWED: 'shell', FROM_CI: 'c', PASSED: 'p' });
    expect(record.names).toEqual([
      { name: 'FROM_DOTENV', source: 'dotenv', file: join(dir, '.env') },
      { name: 'SHADOWED', source: 'worker_env', file: join(dir, '.env') },
      { name: 'SHARED', source: 'env_file', file: join(dir, 'ci.env') },
      { name: 'FROM_CI', source: 'env_file', file: join(dir, 'ci.env') },
      { name: 'PASSED', source: 'eval_env', file: null },
    ]);
    expect(record.ignored.map((i) => i.name)).toEqual(['BRAINTRUST_API_KEY', 'PATH']);
    expect(JSON.stringify(record)).not.toMatch(/other-key|from-ci|shell|"d"/);
  });

  it('an empty worker variable does not shadow a file value', () => {
    const { values } = resolveEvalEnv(evalEnvSpec({ agentDir: dir }), { SHADOWED: '' });
    expect(values.SHADOWED).toBe('file');
  });

  it('the default .env is optional; --no-dotenv skips it', () => {
    expect(resolveEvalEnv(evalEnvSpec({ agentDir: join(dir, 'absent') }), {}).values).toEqual({});
    expect(resolveEvalEnv(evalEnvSpec({ agentDir: dir, dotenv: false }), {}).values).toEqual({});
  });

  it('errors: a missing --env-file, an unset or empty --eval-env, a reserved --eval-env', () => {
    expect(() => resolveEvalEnv(evalEnvSpec({ agentDir: dir, envFiles: [join(dir, 'missing.env')] }), {})).toThrow(/--env-file .*missing\.env does not exist/);
    expect(() => resolveEvalEnv(evalEnvSpec({ agentDir: dir, evalEnv: ['NOPE'] }), {})).toThrow(/--eval-env NOPE is not set \(or is empty\)/);
    expect(() => resolveEvalEnv(evalEnvSpec({ agentDir: dir, evalEnv: ['NOPE'] }), { NOPE: '' })).toThrow(/--eval-env NOPE is not set/);
    expect(() => resolveEvalEnv(evalEnvSpec({ agentDir: dir, evalEnv: ['BRAINTRUST_API_KEY'] }), { BRAINTRUST_API_KEY: 'k' })).toThrow(/sets BRAINTRUST_API_KEY for bt itself/);
    expect(() => resolveEvalEnv(evalEnvSpec({ agentDir: dir, evalEnv: ['bad-name'] }), {})).toThrow(/is not a variable name/);
  });

  it('redactValues removes injected values from text', () => {
    expect(redactValues('key=fake-123456 and fake-123456!', { K: 'fake-123456', SHORT: 'a' })).toBe('key=<redacted> and <redacted>!');
  });
});
