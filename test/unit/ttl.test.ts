// Grant and access token lifetimes under every cap.
import { describe, expect, it } from 'vitest';
import { MAX_GRANT_TTL_SEC } from '../../src/domain/intent.ts';
import {
  clampAccessTtl,
  clampGrantTtl,
  MAX_ACCESS_TTL_SEC,
  type TtlLimits,
} from '../../src/domain/ttl.ts';

const limits: TtlLimits = { defaultGrantTtlSec: 3600, maxGrantTtlSec: 86_400, accessTtlSec: 300 };

describe('clampGrantTtl', () => {
  it('uses the requested ttl when under every cap', () => {
    expect(clampGrantTtl(600, limits)).toBe(600);
  });

  it('uses the default when none is requested', () => {
    expect(clampGrantTtl(undefined, limits)).toBe(3600);
  });

  it('caps at the configured maximum, the client maximum and the absolute maximum', () => {
    expect(clampGrantTtl(7200, { ...limits, maxGrantTtlSec: 1800 })).toBe(1800);
    expect(clampGrantTtl(7200, { ...limits, clientMaxGrantTtlSec: 900 })).toBe(900);
    expect(
      clampGrantTtl(10 * MAX_GRANT_TTL_SEC, { ...limits, maxGrantTtlSec: 10 * MAX_GRANT_TTL_SEC }),
    ).toBe(MAX_GRANT_TTL_SEC);
  });

  it('caps the default as well', () => {
    expect(clampGrantTtl(undefined, { ...limits, clientMaxGrantTtlSec: 120 })).toBe(120);
  });

  it('never goes below one second and drops fractions', () => {
    expect(clampGrantTtl(0, limits)).toBe(1);
    expect(clampGrantTtl(-50, limits)).toBe(1);
    expect(clampGrantTtl(0.4, limits)).toBe(1);
    expect(clampGrantTtl(99.9, limits)).toBe(99);
  });
});

describe('clampAccessTtl', () => {
  it('uses the configured ttl when the grant lives longer', () => {
    expect(clampAccessTtl(3600, limits)).toBe(300);
  });

  it('never outlives the grant', () => {
    expect(clampAccessTtl(42, limits)).toBe(42);
    expect(clampAccessTtl(42.9, limits)).toBe(42);
  });

  it('caps at the client maximum and at 900 s whatever config says', () => {
    expect(clampAccessTtl(3600, { ...limits, clientMaxTokenTtlSec: 60 })).toBe(60);
    expect(clampAccessTtl(3600, { ...limits, accessTtlSec: 5000 })).toBe(MAX_ACCESS_TTL_SEC);
  });

  it('is 0, not negative, for a grant that has run out', () => {
    expect(clampAccessTtl(0, limits)).toBe(0);
    expect(clampAccessTtl(-30, limits)).toBe(0);
  });
});
