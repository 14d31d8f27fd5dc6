// Fields of backend/model that model.ts does not mirror yet. Kept apart so
// model.ts can be generated from the API description without losing them.

import type { Retries } from './model';

/** Retries with the status codes that "retriable-status-codes" retries on. */
export type RetriesWithCodes = Retries & { statusCodes?: number[] };
