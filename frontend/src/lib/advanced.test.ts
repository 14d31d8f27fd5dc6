import { describe, expect, it } from 'vitest';
import { keptCredentials } from './advanced';

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
