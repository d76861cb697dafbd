// The RFC 9457 assertion every admin-API test shares.
import { expect } from 'vitest';
import type { HttpResult } from './broker.ts';

/** An RFC 9457 problem: problem+json with the status repeated in the body and a title. */
export function expectProblem(res: HttpResult, status: number): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
  expect(typeof res.body.title).toBe('string');
}
