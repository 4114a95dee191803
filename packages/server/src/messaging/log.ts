import { createHash, randomUUID } from 'node:crypto';
import type { Delivery, DeliveryKind, WelcomeDelivery } from '@bulwark/protocol';
import type { Storage } from '../storage/storage.ts';

export function digestOf(data: string): string {
  return createHash('sha256').update(Buffer.from(data, 'base64url')).digest('hex');
}

export interface LogEntry {
  seq: number;
  kind: DeliveryKind;
  epoch: number;
  data: string;
  senderDeviceId: string | null;
}

/**
 * Each conversation's ordered log of MLS messages (the Delivery Service's
 * queue), each device's acknowledged position in it, and the Welcomes
 * waiting for devices. A device is delivered what lies after its position
 * and, once removed, nothing after the message that removed it.
 */
export class ConversationLog {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async append(conversationId: string, entry: LogEntry, now: Date): Promise<void> {
    await this.#storage.db
      .insertInto('conversation_log')
      .values({
        conversation_id: conversationId,
        seq: entry.seq,
        kind: entry.kind,
        epoch: entry.epoch,
        data: entry.data,
        sender_device_id: entry.senderDeviceId,
        digest: digestOf(entry.data),
        sent_at: now.toISOString(),
      })
      .execute();
  }

  /** The position of these exact bytes in the conversation, if they were accepted before. */
  async seqOf(conversationId: string, data: string): Promise<number | null> {
    const row = await this.#storage.db
      .selectFrom('conversation_log')
      .select('seq')
      .where('conversation_id', '=', conversationId)
      .where('digest', '=', digestOf(data))
      .executeTakeFirst();
    return row ? Number(row.seq) : null;
  }

  async range(
    conversationId: string,
    after: number,
    limit: number,
    upTo: number | null = null,
  ): Promise<Delivery[]> {
    let q = this.#storage.db
      .selectFrom('conversation_log')
      .leftJoin('messaging_devices', 'messaging_devices.id', 'conversation_log.sender_device_id')
      .select([
        'conversation_log.seq',
        'conversation_log.kind',
        'conversation_log.epoch',
        'conversation_log.data',
        'conversation_log.sent_at',
        'conversation_log.sender_device_id',
        'messaging_devices.user_id',
      ])
      .where('conversation_log.conversation_id', '=', conversationId)
      .where('conversation_log.seq', '>', after)
      .orderBy('conversation_log.seq')
      .limit(limit);
    if (upTo !== null) q = q.where('conversation_log.seq', '<=', upTo);
    const rows = await q.execute();
    return rows.map((r) => ({
      conversation: conversationId,
      seq: Number(r.seq),
      kind: r.kind,
      epoch: Number(r.epoch),
      data: r.data,
      sentAt: r.sent_at,
      sender:
        r.sender_device_id && r.user_id
          ? { userId: r.user_id, deviceId: r.sender_device_id }
          : null,
    }));
  }

  // --- positions ---------------------------------------------------------------

  /** A device joins at `seq` (the commit that added it): it is delivered what follows. */
  async join(deviceId: string, conversationId: string, seq: number): Promise<void> {
    const db = this.#storage.db;
    await db
      .deleteFrom('conversation_cursors')
      .where('device_id', '=', deviceId)
      .where('conversation_id', '=', conversationId)
      .execute();
    await db
      .insertInto('conversation_cursors')
      .values({
        device_id: deviceId,
        conversation_id: conversationId,
        joined_seq: seq,
        acked_seq: seq,
        removed_seq: null,
      })
      .execute();
  }

  /** Nothing after `seq` reaches the device any more (first removal wins). */
  async leave(deviceId: string, conversationId: string, seq: number): Promise<void> {
    await this.#storage.db
      .updateTable('conversation_cursors')
      .set({ removed_seq: seq })
      .where('device_id', '=', deviceId)
      .where('conversation_id', '=', conversationId)
      .where('removed_seq', 'is', null)
      .execute();
  }

  async ack(deviceId: string, conversationId: string, seq: number): Promise<void> {
    await this.#storage.db
      .updateTable('conversation_cursors')
      .set({ acked_seq: seq })
      .where('device_id', '=', deviceId)
      .where('conversation_id', '=', conversationId)
      .where('acked_seq', '<', seq)
      .execute();
  }

  /** Where the device stands in each conversation it still has something to receive from. */
  async cursorsOf(
    deviceId: string,
  ): Promise<{ conversationId: string; ackedSeq: number; removedSeq: number | null }[]> {
    const rows = await this.#storage.db
      .selectFrom('conversation_cursors')
      .select(['conversation_id', 'acked_seq', 'removed_seq'])
      .where('device_id', '=', deviceId)
      .execute();
    return rows
      .map((r) => ({
        conversationId: r.conversation_id,
        ackedSeq: Number(r.acked_seq),
        removedSeq: r.removed_seq === null ? null : Number(r.removed_seq),
      }))
      .filter((c) => c.removedSeq === null || c.ackedSeq < c.removedSeq);
  }

  async cursor(
    deviceId: string,
    conversationId: string,
  ): Promise<{ joinedSeq: number; ackedSeq: number; removedSeq: number | null } | null> {
    const r = await this.#storage.db
      .selectFrom('conversation_cursors')
      .select(['joined_seq', 'acked_seq', 'removed_seq'])
      .where('device_id', '=', deviceId)
      .where('conversation_id', '=', conversationId)
      .executeTakeFirst();
    return r
      ? {
          joinedSeq: Number(r.joined_seq),
          ackedSeq: Number(r.acked_seq),
          removedSeq: r.removed_seq === null ? null : Number(r.removed_seq),
        }
      : null;
  }

  // --- welcomes -----------------------------------------------------------------

  async addWelcome(
    deviceId: string,
    conversationId: string,
    epoch: number,
    data: string,
    now: Date,
  ): Promise<void> {
    await this.#storage.db
      .insertInto('device_welcomes')
      .values({
        id: randomUUID(),
        device_id: deviceId,
        conversation_id: conversationId,
        epoch,
        data,
        created_at: now.toISOString(),
      })
      .execute();
  }

  async welcomesFor(deviceId: string): Promise<WelcomeDelivery[]> {
    const rows = await this.#storage.db
      .selectFrom('device_welcomes')
      .select(['id', 'conversation_id', 'epoch', 'data'])
      .where('device_id', '=', deviceId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      conversation: r.conversation_id,
      epoch: Number(r.epoch),
      data: r.data,
    }));
  }

  async ackWelcome(deviceId: string, id: string): Promise<void> {
    await this.#storage.db
      .deleteFrom('device_welcomes')
      .where('id', '=', id)
      .where('device_id', '=', deviceId)
      .execute();
  }

  /** Retention: log entries and Welcomes older than `before` in these conversations. */
  async prune(conversationIds: readonly string[], before: Date): Promise<number> {
    if (conversationIds.length === 0) return 0;
    const db = this.#storage.db;
    const r = await db
      .deleteFrom('conversation_log')
      .where('conversation_id', 'in', [...conversationIds])
      .where('sent_at', '<', before.toISOString())
      .executeTakeFirst();
    await db
      .deleteFrom('device_welcomes')
      .where('conversation_id', 'in', [...conversationIds])
      .where('created_at', '<', before.toISOString())
      .execute();
    await db
      .deleteFrom('conversation_attachments')
      .where('conversation_id', 'in', [...conversationIds])
      .where('created_at', '<', before.toISOString())
      .execute();
    return Number(r.numDeletedRows);
  }
}
