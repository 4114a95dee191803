import type { DeviceView } from '@bulwark/protocol';
import { fromBase64Url, toBase64Url } from './bytes.ts';
import { observeKey } from './decisions.ts';
import type { DeviceStore, KnownKeys, Member } from './device-store.ts';
import type { MessagingHttp } from './http.ts';

export interface KeyChange {
  kind: 'new-device' | 'key-changed';
  userId: string;
  deviceId: string;
  deviceName: string;
  fingerprint: string;
}

/**
 * Users' device identity keys as the server lists them, checked against
 * the keys this device saw before (trust on first use, like SSH and
 * Signal): a server that slipped in a device or swapped a key cannot do it
 * silently. It is also the MLS authentication service: a leaf is accepted
 * only when the server lists that device for that user with that key.
 */
export class DeviceDirectory {
  readonly #http: MessagingHttp;
  readonly #store: DeviceStore;
  readonly #self: Member;
  readonly #onChange: (change: KeyChange) => void;
  readonly #cache = new Map<string, { at: number; devices: Promise<DeviceView[]> }>();
  readonly #ttlMs: number;
  #known: KnownKeys | null = null;
  #saving: Promise<void> = Promise.resolve();

  constructor(opts: {
    http: MessagingHttp;
    store: DeviceStore;
    self: Member;
    onChange: (change: KeyChange) => void;
    ttlMs?: number;
  }) {
    this.#http = opts.http;
    this.#store = opts.store;
    this.#self = opts.self;
    this.#onChange = opts.onChange;
    this.#ttlMs = opts.ttlMs ?? 30_000;
  }

  /** A user's devices (from a short cache unless `fresh`), observed for key changes. */
  async devices(userId: string, fresh = false): Promise<DeviceView[]> {
    const cached = this.#cache.get(userId);
    if (!fresh && cached && Date.now() - cached.at < this.#ttlMs) return cached.devices;
    const devices = this.#http.devices(userId).then(async (list) => {
      await this.#observe(userId, list);
      return list;
    });
    this.#cache.set(userId, { at: Date.now(), devices });
    devices.catch(() => this.#cache.delete(userId));
    return devices;
  }

  /**
   * The device half of the authentication service: the key must be the one
   * the server lists for that device. Unverified (pending) devices are
   * accepted — where policy requires verification the server never adds
   * them, elsewhere they belong — and announced as new devices; revoked ones
   * are accepted while their removal is being committed, since the key is
   * authentic and the leaf is on its way out.
   */
  async checkDevice(member: Member, signaturePublicKey: Uint8Array): Promise<boolean> {
    const key = toBase64Url(signaturePublicKey);
    const matches = (list: DeviceView[]) =>
      list.some(
        (d) =>
          d.id === member.deviceId && d.userId === member.userId && d.signaturePublicKey === key,
      );
    if (matches(await this.devices(member.userId))) return true;
    // A device added since the cache was filled.
    return matches(await this.devices(member.userId, true));
  }

  async #observe(userId: string, devices: DeviceView[]): Promise<void> {
    this.#known ??= await this.#store.loadKnownKeys();
    const known = this.#known;
    const before = known[userId];
    const now = new Date().toISOString();
    const entry: Record<string, { key: string; firstSeen: string }> = { ...(before ?? {}) };
    let changed = before === undefined;
    for (const device of devices) {
      const seen = observeKey(before, device.id, device.signaturePublicKey);
      if (seen === 'known') continue;
      changed = true;
      entry[device.id] = { key: device.signaturePublicKey, firstSeen: now };
      // Our own device registering itself is not news.
      if (seen === 'first-seen-user' || device.id === this.#self.deviceId) continue;
      this.#onChange({
        kind: seen,
        userId,
        deviceId: device.id,
        deviceName: device.name,
        fingerprint: device.fingerprint,
      });
    }
    if (!changed) return;
    known[userId] = entry;
    const snapshot = structuredClone(known);
    this.#saving = this.#saving.then(() => this.#store.saveKnownKeys(snapshot));
    await this.#saving;
  }

  /** The active identity keys of a user (for safety numbers). */
  async activeKeys(userId: string): Promise<Uint8Array[]> {
    const devices = await this.devices(userId, true);
    return devices
      .filter((d) => d.status === 'active')
      .map((d) => fromBase64Url(d.signaturePublicKey));
  }
}
