/**
 * RFC 8785 JSON Canonicalization Scheme, for hashing ledger entries.
 *
 * Serialisation is the `canonicalize` package (by the RFC's authors). It
 * follows JSON.stringify in quietly dropping or rewriting what JSON cannot
 * hold (undefined members vanish, undefined array items become null, Dates
 * go through toJSON, a Uint8Array becomes {"0":…}); for an audit ledger that
 * would mean two different values hashing the same, so every value is
 * checked first and anything that is not plain JSON is refused with the
 * path where it was found.
 */
import canonicalize from 'canonicalize';

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Nesting bound: ledger entries are shallow; this stops pathological input early. */
export const MAX_DEPTH = 128;

export class CanonicalJsonError extends TypeError {
  override name = 'CanonicalJsonError';
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`cannot canonicalise ${path}: ${problem}`);
    this.path = path;
  }
}

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return 'a BigInt';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'number') return String(value); // NaN, Infinity, -Infinity
  if (typeof value === 'object' && value !== null) {
    const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
    return `an object of class ${ctor ?? 'unknown'}`;
  }
  return typeof value;
}

function assertJson(root: unknown): void {
  const onPath = new Set<object>();
  const visit = (value: unknown, path: string, depth: number): void => {
    switch (typeof value) {
      case 'string':
        if (!value.isWellFormed())
          throw new CanonicalJsonError(path, 'string has a lone surrogate');
        return;
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(value))
          throw new CanonicalJsonError(path, `${describe(value)} is not JSON`);
        return;
      case 'object': {
        if (value === null) return;
        if (depth >= MAX_DEPTH)
          throw new CanonicalJsonError(path, `nested deeper than ${MAX_DEPTH}`);
        if (onPath.has(value)) throw new CanonicalJsonError(path, 'circular reference');
        onPath.add(value);
        if (Array.isArray(value)) {
          if (Object.getPrototypeOf(value) !== Array.prototype) {
            throw new CanonicalJsonError(path, `${describe(value)} is not JSON`);
          }
          for (let i = 0; i < value.length; i++) {
            if (!Object.hasOwn(value, i))
              throw new CanonicalJsonError(child(path, i), 'sparse array hole');
            visit(value[i], child(path, i), depth + 1);
          }
        } else {
          const proto = Object.getPrototypeOf(value);
          if (proto !== Object.prototype && proto !== null) {
            throw new CanonicalJsonError(path, `${describe(value)} is not JSON`);
          }
          if (Object.getOwnPropertySymbols(value).length > 0) {
            throw new CanonicalJsonError(path, 'object has symbol keys');
          }
          const record = value as Record<string, unknown>;
          if (typeof record.toJSON === 'function') {
            throw new CanonicalJsonError(path, 'object has a toJSON method');
          }
          for (const key of Object.keys(record)) {
            if (!key.isWellFormed()) throw new CanonicalJsonError(path, 'key has a lone surrogate');
            visit(record[key], child(path, key), depth + 1);
          }
        }
        onPath.delete(value);
        return;
      }
      default:
        throw new CanonicalJsonError(path, `${describe(value)} is not JSON`);
    }
  };
  visit(root, '$', 0);
}

/** The RFC 8785 canonical form as a string. Throws CanonicalJsonError on non-JSON values. */
export function canonicalJsonString(value: unknown): string {
  assertJson(value);
  const out = canonicalize(value);
  if (out === undefined) throw new CanonicalJsonError('$', 'value is not JSON');
  return out;
}

/** The RFC 8785 canonical form as UTF-8 bytes: what gets hashed. */
export function canonicalJson(value: unknown): Uint8Array {
  // The string is well-formed (checked above), so UTF-8 encoding is exact.
  return new TextEncoder().encode(canonicalJsonString(value));
}
