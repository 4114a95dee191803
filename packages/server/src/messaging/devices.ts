import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { DeviceStatus, DeviceView } from '@bulwark/protocol';
import type { Selectable } from 'kysely';
import { BulwarkError } from '../errors.ts';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

export interface Device {
  id: string;
  userId: string;
  name: string;
  signaturePublicKey: string;
  status: DeviceStatus;
  verifiedBy: { kind: 'device' | 'admin'; id: string } | null;
  createdAt: string;
  revokedAt: string | null;
}

/** What people compare: the hex SHA-256 of the identity key. */
export function keyFingerprint(signaturePublicKey: string): string {
  return createHash('sha256').update(Buffer.from(signaturePublicKey, 'base64url')).digest('hex');
}

export function deviceView(d: Device): DeviceView {
  return { ...d, fingerprint: keyFingerprint(d.signaturePublicKey) };
}

const challengeLifetimeMs = 2 * 60 * 1000;

/**
 * Messaging devices: one identity key each (it signs the device's key
 * packages and leaves), the sessions that proved they hold it, and the
 * challenges they answered. A device's key never changes: a new key is a
 * new device, which is what makes "this person's key changed" visible.
 */
export class DeviceStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  #row(r: Selectable<Tables['messaging_devices']>): Device {
    return {
      id: r.id,
      userId: r.user_id,
      // Read on every message (the sender's device): the memo spares the decryption.
      name: this.#storage.fields.decryptRecent(
        { table: 'messaging_devices', column: 'name', rowId: r.id },
        r.name_enc,
      ),
      signaturePublicKey: r.signature_public_key,
      status: r.status,
      verifiedBy:
        r.verified_by_kind && r.verified_by_id
          ? { kind: r.verified_by_kind, id: r.verified_by_id }
          : null,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    };
  }

  async get(id: string): Promise<Device | null> {
    const r = await this.#storage.db
      .selectFrom('messaging_devices')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? this.#row(r) : null;
  }

  async listForUser(userId: string): Promise<Device[]> {
    const rows = await this.#storage.db
      .selectFrom('messaging_devices')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#row(r));
  }

  /** Devices of these people that are not revoked. */
  async liveForUsers(userIds: readonly string[]): Promise<Device[]> {
    if (userIds.length === 0) return [];
    const rows = await this.#storage.db
      .selectFrom('messaging_devices')
      .selectAll()
      .where('user_id', 'in', [...userIds])
      .where('status', '!=', 'revoked')
      .execute();
    return rows.map((r) => this.#row(r));
  }

  async register(
    input: { userId: string; name: string; signaturePublicKey: string; status: DeviceStatus },
    now: Date,
  ): Promise<Device> {
    const taken = await this.#storage.db
      .selectFrom('messaging_devices')
      .select('id')
      .where('signature_public_key', '=', input.signaturePublicKey)
      .executeTakeFirst();
    if (taken) {
      throw new BulwarkError(
        'conflict',
        'That identity key is already registered to a device; generate a new key for a new device.',
      );
    }
    const id = randomUUID();
    await this.#storage.db
      .insertInto('messaging_devices')
      .values({
        id,
        user_id: input.userId,
        name_enc: this.#storage.fields.encrypt(
          { table: 'messaging_devices', column: 'name', rowId: id },
          input.name,
        ),
        signature_public_key: input.signaturePublicKey,
        status: input.status,
        verified_by_kind: null,
        verified_by_id: null,
        created_at: now.toISOString(),
        revoked_at: null,
      })
      .execute();
    return (await this.get(id)) as Device;
  }

  async markVerified(id: string, by: { kind: 'device' | 'admin'; id: string }): Promise<void> {
    await this.#storage.db
      .updateTable('messaging_devices')
      .set({ status: 'active', verified_by_kind: by.kind, verified_by_id: by.id })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }

  async revoke(id: string, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('messaging_devices')
      .set({ status: 'revoked', revoked_at: now.toISOString() })
      .where('id', '=', id)
      .execute();
    await this.#storage.db
      .deleteFrom('messaging_device_sessions')
      .where('device_id', '=', id)
      .execute();
    await this.#storage.db
      .deleteFrom('messaging_key_packages')
      .where('device_id', '=', id)
      .execute();
  }

  // --- sessions --------------------------------------------------------------

  async bind(sessionId: string, deviceId: string, now: Date): Promise<void> {
    const db = this.#storage.db;
    await db.deleteFrom('messaging_device_sessions').where('session_id', '=', sessionId).execute();
    await db
      .insertInto('messaging_device_sessions')
      .values({ session_id: sessionId, device_id: deviceId, bound_at: now.toISOString() })
      .execute();
  }

  /** The live device this session proved it holds, or null. */
  async ofSession(sessionId: string): Promise<Device | null> {
    const r = await this.#storage.db
      .selectFrom('messaging_device_sessions')
      .innerJoin('messaging_devices', 'messaging_devices.id', 'messaging_device_sessions.device_id')
      .selectAll('messaging_devices')
      .where('messaging_device_sessions.session_id', '=', sessionId)
      .where('messaging_devices.status', '!=', 'revoked')
      .executeTakeFirst();
    return r ? this.#row(r) : null;
  }

  async issueChallenge(sessionId: string, deviceId: string, now: Date): Promise<Buffer> {
    const challenge = randomBytes(32);
    const db = this.#storage.db;
    await db
      .deleteFrom('messaging_device_challenges')
      .where('expires_at', '<', now.toISOString())
      .execute();
    await db
      .insertInto('messaging_device_challenges')
      .values({
        id: randomUUID(),
        session_id: sessionId,
        device_id: deviceId,
        challenge: challenge.toString('base64url'),
        expires_at: new Date(now.getTime() + challengeLifetimeMs).toISOString(),
      })
      .execute();
    return challenge;
  }

  /** The newest unexpired challenge for this session and device, used up by taking it. */
  async takeChallenge(sessionId: string, deviceId: string, now: Date): Promise<Buffer | null> {
    const db = this.#storage.db;
    const row = await db
      .selectFrom('messaging_device_challenges')
      .select(['id', 'challenge'])
      .where('session_id', '=', sessionId)
      .where('device_id', '=', deviceId)
      .where('expires_at', '>=', now.toISOString())
      .orderBy('expires_at', 'desc')
      .executeTakeFirst();
    await db
      .deleteFrom('messaging_device_challenges')
      .where('session_id', '=', sessionId)
      .where('device_id', '=', deviceId)
      .execute();
    return row ? Buffer.from(row.challenge, 'base64url') : null;
  }
}
