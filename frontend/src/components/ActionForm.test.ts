import { describe, expect, it } from 'vitest';
import { cleanAction } from './ActionForm';

describe('cleanAction', () => {
  it('drops empty inputs but keeps what was written into maps', () => {
    expect(
      cleanAction({
        timeout: '',
        forward: [{ upstream: 'web', weight: 1 }],
        headers: { request: { set: { 'x-empty': '' }, remove: [] } },
        auth: { basic: { users: { alice: '' } } },
        retries: { attempts: 2, perTryTimeout: '' },
      }),
    ).toEqual({
      forward: [{ upstream: 'web', weight: 1 }],
      headers: { request: { set: { 'x-empty': '' }, remove: [] } },
      auth: { basic: { users: { alice: '' } } },
      retries: { attempts: 2 },
    });
  });
});
