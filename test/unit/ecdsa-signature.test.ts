// JWS <-> DER ECDSA signatures: our conversion must agree with OpenSSL's, byte for byte, for any signature.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derToJose, joseToDer } from '../../src/crypto/ecdsa-signature.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('ECDSA signature forms', () => {
  it('agrees with node:crypto ieee-p1363 both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
        const data = Buffer.from(bytes);
        const der = sign('sha256', data, privateKey);
        const jose = derToJose(der, 32);
        expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(
          true,
        );
        expect(joseToDer(jose, 32).equals(der)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes short and high-bit integers canonically', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (bytes) => {
        const jose = Buffer.from(bytes);
        expect(derToJose(joseToDer(jose, 32), 32).equals(jose)).toBe(true);
      }),
    );
    const zeros = Buffer.alloc(64);
    zeros[31] = 1;
    zeros[63] = 0x80;
    expect(joseToDer(zeros, 32).toString('hex')).toBe('3007020101020200' + '80');
  });

  it('refuses what is not a signature', () => {
    expect(() => derToJose(Buffer.from('300602010102010', 'hex'), 32)).toThrow();
    expect(() => derToJose(Buffer.from('3006030101020101', 'hex'), 32)).toThrow();
    expect(() => joseToDer(Buffer.alloc(63), 32)).toThrow();
  });
});
