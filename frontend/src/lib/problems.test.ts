import { describe, expect, it } from 'vitest';
import { apiPathToFormPath, conditionProblems, problemsToFormErrors, relativeTo } from './problems';

describe('apiPathToFormPath', () => {
  const tests: Record<string, { in: string; want: string }> = {
    plain: { in: 'name', want: 'name' },
    nested: { in: 'then.retries.attempts', want: 'then.retries.attempts' },
    index: { in: 'then.forward[1].weight', want: 'then.forward.1.weight' },
    'nested indexes': { in: 'when.all[0].any[12].value', want: 'when.all.0.any.12.value' },
    'leading index': { in: '[2].name', want: '2.name' },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => expect(apiPathToFormPath(tc.in)).toBe(tc.want));
  }
});

describe('problemsToFormErrors', () => {
  const fields = new Set(['name', 'gateway', 'then.forward.0.upstream', 'then.forward.0.weight', 'then.forward.1.upstream', 'then.forward.1.weight', 'then.retries', 'then.timeout']);
  const known = (p: string) => fields.has(p);

  it('puts each problem on its field', () => {
    const got = problemsToFormErrors(
      [
        { field: 'then.forward[1].weight', message: 'must be between 0 and 100' },
        { field: 'name', message: 'is required' },
      ],
      known,
    );
    expect(got.fieldErrors).toEqual({ 'then.forward.1.weight': 'must be between 0 and 100', name: 'is required' });
    expect(got.other).toEqual([]);
  });

  it('joins several problems on one field', () => {
    const got = problemsToFormErrors(
      [
        { field: 'name', message: 'is required' },
        { field: 'name', message: 'must be a DNS label' },
      ],
      known,
    );
    expect(got.fieldErrors.name).toBe('is required; must be a DNS label');
  });

  it('moves a problem below any form field up to the closest one', () => {
    const got = problemsToFormErrors([{ field: 'then.retries.perTryTimeout', message: 'must be positive' }], known);
    expect(got.fieldErrors).toEqual({ 'then.retries': 'perTryTimeout: must be positive' });
  });

  it('keeps problems with no field on screen apart', () => {
    const problems = [
      { field: '', message: 'route set is too large' },
      { field: 'then.cors.allowOrigins[0]', message: 'bad origin' },
    ];
    const got = problemsToFormErrors(problems, known);
    expect(got.fieldErrors).toEqual({});
    expect(got.other).toEqual(problems);
  });
});

describe('conditionProblems', () => {
  it('keys problems by builder node path', () => {
    const got = conditionProblems([
      { field: 'when.all[1].value', message: 'invalid regex' },
      { field: 'when.all[0].not.any[2].op', message: 'prefix is not allowed on method' },
      { field: 'when', message: 'too many alternatives' },
      { field: 'then.timeout', message: 'ignored' },
    ]);
    expect(Object.fromEntries(got)).toEqual({
      'all.1': [{ field: 'value', message: 'invalid regex' }],
      'all.0.not.any.2': [{ field: 'op', message: 'prefix is not allowed on method' }],
      '': [{ field: '', message: 'too many alternatives' }],
    });
  });
});

describe('relativeTo', () => {
  it('strips the object prefix and leaves other objects alone', () => {
    expect(
      relativeTo('routes[0]', [
        { field: 'routes[0].then.forward[0].upstream', message: 'unknown upstream "nope"' },
        { field: 'routes[0]', message: 'shadowed' },
        { field: 'routes[10].name', message: 'other' },
      ]),
    ).toEqual([
      { field: 'then.forward[0].upstream', message: 'unknown upstream "nope"' },
      { field: '', message: 'shadowed' },
      { field: 'routes[10].name', message: 'other' },
    ]);
  });
});
