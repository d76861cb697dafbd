// Canonical JSON: the same value always serialises to the same bytes (decision hashes, guard cache keys).

/**
 * Canonical JSON of a JSON value: object keys sorted by UTF-16 code units, no whitespace,
 * `undefined` members dropped. The same record always serialises to the same bytes, whoever wrote it.
 */
export function canonicalJson(value: unknown): string {
  // V8's JSON.stringify over a key-sorted copy is four times faster than writing the text here,
  // but a plain object lists integer-like keys first, whatever their order: those take the slow path.
  const sorted = sortedCopy(value);
  return sorted === UNSORTABLE ? writeCanonical(value) : (JSON.stringify(sorted) ?? 'null');
}

const UNSORTABLE = Symbol('unsortable');
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * The value with every object's keys in code-unit order, or UNSORTABLE when an object has an
 * integer-like key. Only what is out of order is copied: a record built in key order (as the
 * decision log builds its own fields) goes to JSON.stringify as it is.
 */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return sortedCopy((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = sortedCopy(value[i]);
      if (item === UNSORTABLE) return UNSORTABLE;
      if (item === value[i]) continue;
      out ??= Array.from(value);
      out[i] = item;
    }
    return out ?? value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  let inOrder = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (isIndexLike(key)) return UNSORTABLE;
    if (i > 0 && !((keys[i - 1] as string) < key)) inOrder = false;
  }
  if (!inOrder) keys.sort();
  // The copy, made once a member differs from the original (at once when the keys are out of order).
  let out: Record<string, unknown> | undefined = inOrder ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const member = object[key];
    const item = sortedCopy(member);
    if (item === UNSORTABLE) return UNSORTABLE;
    if (!out) {
      if (item === member) continue;
      out = {};
      for (let j = 0; j < i; j++) setMember(out, keys[j] as string, object[keys[j] as string]);
    }
    setMember(out, key, item);
  }
  return out ?? value;
}

function setMember(out: Record<string, unknown>, key: string, item: unknown): void {
  // Assigning `__proto__` would set the copy's prototype (and drop the member): define it instead.
  if (key === '__proto__')
    Object.defineProperty(out, key, {
      value: item,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else out[key] = item;
}

/** Integer-like keys, which a plain object lists before all others whatever their insertion order. */
function isIndexLike(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 48 && first <= 57 && ARRAY_INDEX.test(key);
}

/** The canonical text written out by hand (for objects with integer-like keys). */
function writeCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return writeCanonical((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      out += `${i ? ',' : ''}${item === undefined ? 'null' : writeCanonical(item)}`;
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, as `<` does.
  let out = '{';
  for (const key of Object.keys(object).sort()) {
    const item = object[key];
    if (item === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${writeCanonical(item)}`;
  }
  return `${out}}`;
}
