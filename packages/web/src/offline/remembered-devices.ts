/**
 * What this device remembers in the clear to open the offline copy when the
 * server cannot be reached: user ids and the credential ids of their
 * passkeys — exactly what `navigator.credentials.get` needs, nothing else
 * (no name, email or org; the person's profile lives inside the vault).
 */

/** The smallest slice of Storage we use, so tests can swap localStorage. */
export type DeviceStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface LastSession {
  userId: string;
  /** Most recent first. */
  credentialIds: string[];
}

const storageKey = 'bulwark.offline.v1';
const maxUsers = 8;
const maxCredentials = 16;

let override: DeviceStorage | null | undefined;

/** Tests (and a private-mode fallback) pass their own storage; `undefined` restores localStorage. */
export function setDeviceStorage(storage: DeviceStorage | null | undefined): void {
  override = storage;
}

function deviceStorage(): DeviceStorage | null {
  if (override !== undefined) return override;
  try {
    return globalThis.localStorage ?? null;
  } catch {
    // Storage blocked by the browser's privacy settings: nothing is remembered.
    return null;
  }
}

/** Read defensively: the value is outside our control (another tab, an extension, a person). */
function readAll(): LastSession[] {
  const raw = deviceStorage()?.getItem(storageKey);
  if (!raw || raw.length > 64_000) return [];
  try {
    const parsed = JSON.parse(raw) as { users?: unknown };
    if (!Array.isArray(parsed.users)) return [];
    const users: LastSession[] = [];
    for (const entry of parsed.users.slice(0, maxUsers)) {
      const { userId, credentialIds } = (entry ?? {}) as Record<string, unknown>;
      if (typeof userId !== 'string' || !userId || userId.length > 200) continue;
      if (!Array.isArray(credentialIds)) continue;
      const ids = credentialIds
        .filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 1400)
        .slice(0, maxCredentials);
      users.push({ userId, credentialIds: ids });
    }
    return users;
  } catch {
    return [];
  }
}

function writeAll(users: LastSession[]): void {
  const storage = deviceStorage();
  if (!storage) return;
  try {
    if (users.length === 0) storage.removeItem(storageKey);
    else storage.setItem(storageKey, JSON.stringify({ users: users.slice(0, maxUsers) }));
  } catch {
    // Quota or privacy mode: offline start will simply not be offered.
  }
}

/** Remember that `userId` signed in here with `credentialId` (moved to the front). */
export function rememberCredential(userId: string, credentialId: string): void {
  const users = readAll();
  const existing = users.find((u) => u.userId === userId);
  const credentialIds = [
    credentialId,
    ...(existing?.credentialIds ?? []).filter((id) => id !== credentialId),
  ].slice(0, maxCredentials);
  writeAll([{ userId, credentialIds }, ...users.filter((u) => u.userId !== userId)]);
}

/** The account that last opened the offline copy here, or null. */
export function lastSession(): LastSession | null {
  return readAll()[0] ?? null;
}

export function rememberedCredentials(userId: string): string[] {
  return readAll().find((u) => u.userId === userId)?.credentialIds ?? [];
}

/** Forget an account on this device (its offline copy is deleted separately). */
export function forgetDevice(userId: string): void {
  writeAll(readAll().filter((u) => u.userId !== userId));
}
