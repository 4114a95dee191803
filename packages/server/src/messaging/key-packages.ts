import type { KeyPackageStock } from '@bulwark/protocol';
import { messagingLimits } from '@bulwark/protocol';
import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';

export interface StoredKeyPackage {
  ref: string;
  ciphersuite: string;
  data: string;
  lastResort: boolean;
  notAfter: Date;
}

/**
 * Key packages waiting to add a device to a group. Each ordinary one is
 * handed out once (claimed, then deleted when the commit that used it is
 * accepted); a device's last-resort package is handed out when the others
 * have run out and is never used up (RFC 9420 §16.8), so a device that was
 * offline for long can still be added.
 */
export class KeyPackageStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async stock(deviceId: string, ciphersuite: string, now: Date): Promise<KeyPackageStock> {
    const rows = await this.#storage.db
      .selectFrom('messaging_key_packages')
      .select(['last_resort'])
      .where('device_id', '=', deviceId)
      .where('ciphersuite', '=', ciphersuite)
      .where('claimed_at', 'is', null)
      .where('not_after', '>', now.toISOString())
      .execute();
    return {
      available: rows.filter((r) => r.last_resort === 0).length,
      lastResort: rows.some((r) => r.last_resort === 1),
    };
  }

  async add(deviceId: string, packages: StoredKeyPackage[], now: Date): Promise<void> {
    const db = this.#storage.db;
    // Expired packages are useless to everyone: drop them before counting.
    await db
      .deleteFrom('messaging_key_packages')
      .where('device_id', '=', deviceId)
      .where('not_after', '<=', now.toISOString())
      .execute();
    for (const suite of new Set(packages.map((p) => p.ciphersuite))) {
      const ordinary = packages.filter((p) => !p.lastResort && p.ciphersuite === suite).length;
      const { available } = await this.stock(deviceId, suite, now);
      if (available + ordinary > messagingLimits.keyPackagesPerDevice) {
        throw new BulwarkError(
          'bad_request',
          `A device keeps at most ${messagingLimits.keyPackagesPerDevice} unused key packages per ciphersuite; it has ${available} of ${suite}.`,
        );
      }
    }
    const refs = packages.map((p) => p.ref);
    if (refs.length > 0) {
      const known = await db
        .selectFrom('messaging_key_packages')
        .select('ref')
        .where('ref', 'in', refs)
        .execute();
      if (known.length > 0 || new Set(refs).size !== refs.length) {
        throw new BulwarkError('conflict', 'A key package in this upload was uploaded before.');
      }
    }
    for (const p of packages.filter((k) => k.lastResort)) {
      // One last-resort package per device and suite: the new one replaces the old.
      await db
        .deleteFrom('messaging_key_packages')
        .where('device_id', '=', deviceId)
        .where('ciphersuite', '=', p.ciphersuite)
        .where('last_resort', '=', 1)
        .execute();
    }
    for (const p of packages) {
      await db
        .insertInto('messaging_key_packages')
        .values({
          ref: p.ref,
          device_id: deviceId,
          ciphersuite: p.ciphersuite,
          data: p.data,
          last_resort: p.lastResort ? 1 : 0,
          not_after: p.notAfter.toISOString(),
          claimed_for: null,
          claimed_at: null,
          created_at: now.toISOString(),
        })
        .execute();
    }
  }

  /**
   * Claims one package of the device for a conversation: the oldest unused
   * ordinary one, else the last-resort one; null when it has neither.
   * The conditional update makes two concurrent claims take different rows.
   */
  async claim(
    deviceId: string,
    conversation: { id: string; ciphersuite: string },
    now: Date,
  ): Promise<string | null> {
    const conversationId = conversation.id;
    const db = this.#storage.db;
    for (let attempt = 0; attempt < 5; attempt++) {
      const candidate = await db
        .selectFrom('messaging_key_packages')
        .select(['ref', 'data'])
        .where('device_id', '=', deviceId)
        .where('ciphersuite', '=', conversation.ciphersuite)
        .where('last_resort', '=', 0)
        .where('claimed_at', 'is', null)
        .where('not_after', '>', now.toISOString())
        .orderBy('created_at')
        .orderBy('ref')
        .executeTakeFirst();
      if (!candidate) break;
      const taken = await db
        .updateTable('messaging_key_packages')
        .set({ claimed_for: conversationId, claimed_at: now.toISOString() })
        .where('ref', '=', candidate.ref)
        .where('claimed_at', 'is', null)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) return candidate.data;
    }
    const lastResort = await db
      .selectFrom('messaging_key_packages')
      .select('data')
      .where('device_id', '=', deviceId)
      .where('ciphersuite', '=', conversation.ciphersuite)
      .where('last_resort', '=', 1)
      .where('not_after', '>', now.toISOString())
      .executeTakeFirst();
    return lastResort?.data ?? null;
  }

  /** Whether a commit may add the device with this package: one of its own, not expired. */
  async usable(deviceId: string, ref: string, now: Date): Promise<boolean> {
    const row = await this.#storage.db
      .selectFrom('messaging_key_packages')
      .select('ref')
      .where('ref', '=', ref)
      .where('device_id', '=', deviceId)
      .where('not_after', '>', now.toISOString())
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Used by an accepted commit: ordinary packages go, the last-resort one stays. */
  async consume(refs: readonly string[]): Promise<void> {
    if (refs.length === 0) return;
    await this.#storage.db
      .deleteFrom('messaging_key_packages')
      .where('ref', 'in', [...refs])
      .where('last_resort', '=', 0)
      .execute();
  }
}
