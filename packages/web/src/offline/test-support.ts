/**
 * Helpers for the offline tests: raw access to what IndexedDB holds (what a
 * thief of the browser profile would read) and an in-memory localStorage.
 */
import { openDB } from 'idb';
import type { DeviceStorage } from './remembered-devices.ts';

export interface RawRow {
  store: 'records' | 'wrappings';
  value: Record<string, unknown>;
}

/** Every row of a user's store, read without any key. */
export async function rawRows(userId: string): Promise<RawRow[]> {
  const db = await openDB(`bulwark-vault-${userId}`);
  try {
    const rows: RawRow[] = [];
    for (const store of ['records', 'wrappings'] as const)
      for (const value of await db.getAll(store))
        rows.push({ store, value: value as Record<string, unknown> });
    return rows;
  } finally {
    db.close();
  }
}

export async function rawPut(
  userId: string,
  store: 'records' | 'wrappings',
  value: unknown,
): Promise<void> {
  const db = await openDB(`bulwark-vault-${userId}`);
  try {
    await db.put(store, value);
  } finally {
    db.close();
  }
}

/** All bytes reachable from a value: strings as UTF-8, binary as is, object keys too. */
export function bytesOf(value: unknown, out: number[] = []): number[] {
  if (typeof value === 'string') out.push(...new TextEncoder().encode(value), 0);
  else if (value instanceof Uint8Array) out.push(...value, 0);
  else if (value instanceof ArrayBuffer) out.push(...new Uint8Array(value), 0);
  else if (Array.isArray(value)) for (const item of value) bytesOf(item, out);
  else if (value && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) {
      bytesOf(key, out);
      bytesOf(item, out);
    }
  else if (value !== undefined && value !== null) bytesOf(String(value), out);
  return out;
}

export function containsBytes(haystack: number[], needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

export function memoryStorage(): DeviceStorage & { dump: () => string } {
  const map = new Map<string, string>();
  return {
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
    dump: () => JSON.stringify([...map]),
  };
}

export const secret = (fill: number) => new Uint8Array(32).fill(fill);
