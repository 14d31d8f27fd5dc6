import { describe, expect, it } from 'vitest';
import { openAPISummary } from './apiDocs';

describe('openAPISummary', () => {
  it('counts operations by HTTP method only', () => {
    const doc = {
      openapi: '3.1.0',
      servers: [{ url: 'http://shop.example.com' }],
      paths: { '/pets': { get: {}, post: {}, parameters: [] }, '/pets/{id}': { get: {}, summary: 'x' } },
      components: { securitySchemes: { basic: {} } },
    };
    expect(openAPISummary(doc)).toEqual({ paths: 2, operations: 3, servers: ['http://shop.example.com'], securitySchemes: ['basic'] });
    expect(openAPISummary({})).toEqual({ paths: 0, operations: 0, servers: [], securitySchemes: [] });
  });
});
