import { describe, expect, it } from 'vitest';
import { advancedText, keptCredentials, parseAdvanced } from './advanced';

describe('advanced policies text', () => {
  it('shows only the advanced fields and reads them back', () => {
    const text = advancedText({ forward: [{ upstream: 'web' }], timeout: '5s', cors: { allowOrigins: ['*'] }, access: { deny: ['10.0.0.0/8'] } });
    expect(JSON.parse(text)).toEqual({ cors: { allowOrigins: ['*'] }, access: { deny: ['10.0.0.0/8'] } });
    expect(parseAdvanced(text)).toEqual({ value: { cors: { allowOrigins: ['*'] }, access: { deny: ['10.0.0.0/8'] } } });
  });
  it('is empty when there is nothing advanced', () => {
    expect(advancedText({ forward: [{ upstream: 'web' }] })).toBe('');
    expect(parseAdvanced('  ')).toEqual({ value: {} });
  });
  const bad: Record<string, { text: string; want: RegExp }> = {
    'not JSON': { text: '{cors: 1}', want: /Not valid JSON/ },
    'not an object': { text: '[1]', want: /Write a JSON object/ },
    'unknown field': { text: '{"timeout": "1s"}', want: /Unknown field timeout/ },
  };
  for (const [name, tc] of Object.entries(bad)) {
    it(name, () => {
      const r = parseAdvanced(tc.text);
      expect('error' in r && r.error).toMatch(tc.want);
    });
  }
});

describe('kept credentials', () => {
  it('counts the fingerprints among passwords and API keys', () => {
    const basic = { basic: { users: { alice: 'fp:0123456789ab', bob: 'new-password' } } };
    expect(keptCredentials({ auth: basic })).toBe(1);
    expect(keptCredentials({ auth: { apiKey: { header: 'x-key', keys: ['fp:aaaaaaaaaaaa', 'fp:bbbbbbbbbbbb', 'fp:short'] } } })).toBe(2);
    expect(keptCredentials({ auth: { jwt: { issuer: 'fp:0123456789ab' } } })).toBe(0);
    expect(keptCredentials({ auth: { jwt: { issuer: 'shop', jwks: 'fp:0123456789ab' } } })).toBe(1);
    expect(keptCredentials({})).toBe(0);
  });
});
