import { describe, expect, it } from 'vitest';
import { noun, plural } from './format';

describe('plural', () => {
  it('says one thing in the singular', () => {
    expect(plural(1, 'endpoint')).toBe('1 endpoint');
    expect(plural(0, 'endpoint')).toBe('0 endpoints');
    expect(plural(2, 'path')).toBe('2 paths');
    expect(plural(3, 'entry', 'entries')).toBe('3 entries');
    expect(noun(1, 'request')).toBe('request');
  });
});
