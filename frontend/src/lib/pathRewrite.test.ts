import { describe, expect, it } from 'vitest';
import { isPathConditionProblem, pathConditionProblem } from './pathRewrite';

describe('pathConditionProblem', () => {
  const host = { field: 'host', op: 'equals', value: 'shop.example.com' };
  it('offers path.prefix("/") when a prefix rewrite has no path condition', () => {
    const p = pathConditionProblem(host, { rewrite: { pathPrefix: '/v2/' } });
    expect(p?.message).toMatch(/has none/);
    expect(p?.message).toMatch(/regex/);
    expect(p?.fix?.tree).toEqual({ all: [host, { field: 'path', op: 'prefix', value: '/' }] });
    expect(pathConditionProblem({}, { redirect: { pathPrefix: '/shop' } })?.fix?.tree).toEqual({ field: 'path', op: 'prefix', value: '/' });
  });
  it('is content with one top-level prefix, exact or equals path', () => {
    for (const op of ['prefix', 'segment-prefix', 'exact', 'equals']) {
      expect(pathConditionProblem({ all: [host, { field: 'path', op, value: '/a' }] }, { rewrite: { pathPrefix: '/' } })).toBeNull();
    }
  });
  it('does not count path conditions inside an OR, and names two at the top level', () => {
    const any = { any: [{ field: 'path', op: 'prefix', value: '/a' }, { field: 'path', op: 'prefix', value: '/b' }] };
    expect(pathConditionProblem({ all: [host, any] }, { rewrite: { pathPrefix: '/' } })?.fix).toBeDefined();
    const two = { all: [{ field: 'path', op: 'prefix', value: '/a' }, { field: 'path', op: 'exact', value: '/a/b' }] };
    expect(pathConditionProblem(two, { rewrite: { pathPrefix: '/' } })?.message).toMatch(/has 2 of them/);
  });
  it('needs nothing for a regex rewrite or a host rewrite', () => {
    expect(pathConditionProblem(host, { rewrite: { pathRegex: { pattern: '^/a', substitution: '/' } } })).toBeNull();
    expect(pathConditionProblem(host, { rewrite: { host: 'x' } })).toBeNull();
  });
  it('wants a template for a template rewrite', () => {
    expect(pathConditionProblem(host, { rewrite: { pathTemplate: '/{id}' } })?.fix?.label).toMatch(/template/);
    expect(pathConditionProblem({ field: 'path', op: 'template', value: '/u/{id}' }, { rewrite: { pathTemplate: '/{id}' } })).toBeNull();
  });
  it('recognises the server\'s message', () => {
    expect(isPathConditionProblem('when', 'has no path condition for then.rewrite.pathPrefix to replace: add one, such as path.prefix("/"), or rewrite with then.rewrite.pathRegex, which needs none')).toBe(true);
    expect(isPathConditionProblem('when', 'has 2 path conditions, and then.redirect.pathPrefix needs to know which part of the path to replace: keep exactly one path prefix, exact path or == (outside any ||)')).toBe(true);
    expect(isPathConditionProblem('when', 'has no path.template(...) condition for then.rewrite.pathTemplate to take its variables from: add one, such as path.template("/users/{id}")')).toBe(true);
    expect(isPathConditionProblem('when', '1:5: expected a field')).toBe(false);
    expect(isPathConditionProblem('then.rewrite.pathPrefix', "must start with '/'")).toBe(false);
  });
});
