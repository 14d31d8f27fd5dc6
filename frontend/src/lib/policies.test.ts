import { describe, expect, it } from 'vitest';
import { authKind, rewritePathKind, sectionErrors } from './policies';

describe('policy forms', () => {
  it('tells the authentication kind', () => {
    expect(authKind(undefined)).toBe('none');
    expect(authKind({ jwt: { issuer: 'i' } })).toBe('jwt');
    expect(authKind({ apiKey: { header: 'x-key', keys: [] } })).toBe('apiKey');
    expect(authKind({ basic: { users: {} } })).toBe('basic');
  });
  it('tells how the path is rewritten', () => {
    expect(rewritePathKind(undefined)).toBe('keep');
    expect(rewritePathKind({ host: 'x' })).toBe('keep');
    expect(rewritePathKind({ pathPrefix: '' })).toBe('prefix');
    expect(rewritePathKind({ pathRegex: { pattern: '', substitution: '' } })).toBe('regex');
    expect(rewritePathKind({ pathTemplate: '' })).toBe('template');
  });
  it('collects the errors no input of a section shows', () => {
    const errors = {
      'then.auth': 'exactly one',
      'then.auth.jwt.issuer': 'required',
      'then.auth.basic.users[bob]': 'password must not be empty',
      'then.authz': 'not this section',
      'then.cors.allowOrigins': 'x',
      'then.auth.jwt.jwks': '',
    };
    expect(sectionErrors(errors, 'then.auth', ['then.auth.jwt.issuer'])).toEqual([
      ['then.auth', 'exactly one'],
      ['then.auth.basic.users[bob]', 'password must not be empty'],
    ]);
  });
});
