import { describe, expect, it } from 'vitest';
import { opsFor, retargetRow } from './conditionOps';

describe('retargetRow', () => {
  it('drops a path operator and value that do not fit a method', () => {
    expect(retargetRow({ field: 'path', op: 'prefix', value: '/' }, 'method', 'path', 'method')).toEqual({ field: 'method', op: 'equals' });
  });
  it('gives a path its usual operator', () => {
    expect(retargetRow({ field: 'method', op: 'equals', value: 'GET' }, 'path', 'method', 'path')).toEqual({ field: 'path', op: 'equals' });
    expect(retargetRow({ field: 'grpc', op: 'present' }, 'path', 'grpc', 'path')).toEqual({ field: 'path', op: 'prefix' });
  });
  it('keeps an operator both fields offer, and the value when only the key changes', () => {
    expect(retargetRow({ field: 'host', op: 'suffix', value: '.com' }, 'header[x]', 'host', 'header')).toEqual({ field: 'header[x]', op: 'suffix' });
    expect(retargetRow({ field: 'header[a]', op: 'equals', value: '1' }, 'header[b]', 'header', 'header')).toEqual({ field: 'header[b]', op: 'equals', value: '1' });
  });
  it('offers no starts-with for a method', () => {
    expect(opsFor('method')).not.toContain('prefix');
    expect(opsFor('path')[0]).toBe('prefix');
  });
});
