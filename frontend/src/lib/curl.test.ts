import { describe, expect, it } from 'vitest';
import { parseCurl, shellWords } from './curl';

describe('shellWords', () => {
  it('handles quotes, escapes and continuations', () => {
    expect(shellWords(`curl 'a b' "c \\"d\\"" e\\ f \\\n  g $'h\\ni'`)).toEqual(['curl', 'a b', 'c "d"', 'e f', 'g', 'h\ni']);
  });
});

describe('parseCurl', () => {
  const tests: Record<string, { cmd: string; want: object }> = {
    'plain GET': {
      cmd: 'curl https://shop.example.com/static/app.js',
      want: { method: 'GET', url: 'https://shop.example.com/static/app.js', headers: {}, body: undefined },
    },
    'headers and method': {
      cmd: `curl -X put -H 'X-Canary: 1' --header "Host: api.example.com" http://gw/v1/items`,
      want: { method: 'PUT', url: 'http://gw/v1/items', headers: { 'x-canary': '1', host: 'api.example.com' }, body: undefined },
    },
    'data implies POST': {
      cmd: `curl -s shop.example.com/cart --data-raw '{"id":1}' -H 'content-type: application/json'`,
      want: { method: 'POST', url: 'http://shop.example.com/cart', headers: { 'content-type': 'application/json' }, body: '{"id":1}' },
    },
    'long option with =': {
      cmd: `curl --request=DELETE --url=http://a/b`,
      want: { method: 'DELETE', url: 'http://a/b', headers: {}, body: undefined },
    },
    'basic auth and cookie': {
      cmd: `curl -u bob:secret -b 'beta=1' http://a/`,
      want: { method: 'GET', url: 'http://a/', headers: { authorization: 'Basic Ym9iOnNlY3JldA==', cookie: 'beta=1' }, body: undefined },
    },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => expect(parseCurl(tc.cmd)).toEqual(tc.want));
  }

  it('explains what is wrong', () => {
    expect(() => parseCurl('wget http://a')).toThrow(/starts with "curl"/);
    expect(() => parseCurl('curl -H')).toThrow(/-H needs a value/);
    expect(() => parseCurl('curl --frobnicate http://a')).toThrow(/--frobnicate is not supported/);
    expect(() => parseCurl('curl -s')).toThrow(/no URL/);
  });
});
