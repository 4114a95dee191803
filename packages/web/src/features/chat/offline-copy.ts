import { TransportError } from '@bulwark/chat';
import { NetworkError } from '../../api/client.ts';
import { vault } from '../../offline/vault.ts';

/**
 * Online: load, and keep a copy in the encrypted vault. Offline: that copy,
 * so a conversation can still be opened and written to (the message waits
 * in the outbox).
 */
export async function withOfflineCopy<T>(key: string, load: () => Promise<T>): Promise<T> {
  try {
    const value = await load();
    await vault.put(key, value).catch(() => {});
    return value;
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const copy = await vault.get<T>(key).catch(() => undefined);
    if (copy === undefined) throw error;
    return copy;
  }
}

export function isUnreachable(error: unknown): boolean {
  return error instanceof NetworkError || error instanceof TransportError;
}
