// ECDSA signatures between JWS form (r || s, fixed width: RFC 7518 3.4) and the DER form OpenSSL
// works in. node:crypto converts too (`dsaEncoding: 'ieee-p1363'`), but only behind an options
// object that roughly doubles the cost of every sign and verify call.

/** DER `SEQUENCE { INTEGER r, INTEGER s }` -> r || s, each left-padded to `size` bytes. */
export function derToJose(der: Buffer, size: number): Buffer {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2)
    throw new Error('not a DER ECDSA signature');
  const out = Buffer.alloc(size * 2);
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (der[at] !== 0x02) throw new Error('not a DER ECDSA signature');
    const length = der[at + 1] as number;
    let start = at + 2;
    const end = start + length;
    if (end > der.length) throw new Error('not a DER ECDSA signature');
    while (start < end - 1 && der[start] === 0) start++;
    if (end - start > size) throw new Error('ECDSA integer too long');
    der.copy(out, size * (i + 1) - (end - start), start, end);
    at = end;
  }
  return out;
}

/** r || s (2 x `size` bytes) -> DER `SEQUENCE { INTEGER r, INTEGER s }`. */
export function joseToDer(jose: Buffer, size: number): Buffer {
  if (jose.length !== size * 2) throw new Error('wrong ECDSA signature length');
  const r = derInteger(jose.subarray(0, size));
  const s = derInteger(jose.subarray(size));
  // P-256 and P-384 signatures stay under 128 bytes: the short length form always fits.
  return Buffer.concat([Buffer.from([0x30, r.length + s.length]), r, s]);
}

function derInteger(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const body = unsigned.subarray(start);
  // A set high bit would read as negative: DER puts a zero byte in front.
  const pad = (body[0] as number) & 0x80 ? 1 : 0;
  const out = Buffer.alloc(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  body.copy(out, 2 + pad);
  return out;
}
