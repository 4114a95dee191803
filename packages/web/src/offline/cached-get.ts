/**
 * A GET that also works offline: each answer is kept in the encrypted vault
 * (when it is open), and when the server cannot be reached the last copy is
 * returned instead. For the screens that must open without the server: the
 * navigation, the start page, a project's header. Errors other than an
 * unreachable server are never papered over with a copy.
 */
import { api, NetworkError, type RequestOptions } from '../api/client.ts';
import { vault } from './vault.ts';

export async function cachedGet<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const key = `get:${path}`;
  try {
    const value = await api.get<T>(path, options);
    // Locked vault: nothing is kept, and nothing is lost by it.
    await vault.put(key, value).catch(() => {});
    return value;
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    const copy = await vault.get<T>(key).catch(() => undefined);
    if (copy === undefined) throw error;
    return copy;
  }
}
