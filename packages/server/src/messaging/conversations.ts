import { randomBytes, randomUUID } from 'node:crypto';
import type { MlsCiphersuite } from '@bulwark/protocol';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

/** A removal the server proposed as the group's external sender, waiting to be committed. */
export interface PendingRemoval {
  leaf: number;
  deviceId: string;
  /** Hex proposal reference (RFC 9420 §5.2): a commit must name exactly these. */
  ref: string;
}

export interface Conversation {
  id: string;
  projectId: string;
  kind: 'channel' | 'direct';
  name: string | null;
  participants: string[] | null;
  groupId: string;
  ciphersuite: MlsCiphersuite;
  epoch: number | null;
  /** Leaf index → device id (null = blank leaf), as the accepted commits left it. */
  roster: (string | null)[];
  groupInfo: string | null;
  pending: PendingRemoval[];
  lastSeq: number;
  createdBy: string;
  createdAt: string;
}

type Row = Selectable<Tables['conversations']>;

/** The new state a handshake leaves; written only if the epoch is still the one it was built on. */
export interface GroupTransition {
  epoch: number;
  roster: (string | null)[];
  groupInfo: string;
  pending: PendingRemoval[];
}

export class ConversationStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  #row(r: Row): Conversation {
    return {
      id: r.id,
      projectId: r.project_id,
      kind: r.kind,
      name:
        r.name_enc === null
          ? null
          : this.#storage.fields.decryptRecent(
              { table: 'conversations', column: 'name', rowId: r.id },
              r.name_enc,
            ),
      participants: r.participants === null ? null : (JSON.parse(r.participants) as string[]),
      groupId: r.group_id,
      ciphersuite: r.ciphersuite as MlsCiphersuite,
      epoch: r.epoch === null ? null : Number(r.epoch),
      roster: JSON.parse(r.roster) as (string | null)[],
      groupInfo: r.group_info,
      pending: JSON.parse(r.pending) as PendingRemoval[],
      lastSeq: Number(r.last_seq),
      createdBy: r.created_by,
      createdAt: r.created_at,
    };
  }

  async get(id: string): Promise<Conversation | null> {
    const r = await this.#storage.db
      .selectFrom('conversations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? this.#row(r) : null;
  }

  async listForProject(projectId: string): Promise<Conversation[]> {
    const rows = await this.#storage.db
      .selectFrom('conversations')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#row(r));
  }

  async listForProjects(projectIds: readonly string[]): Promise<Conversation[]> {
    if (projectIds.length === 0) return [];
    const rows = await this.#storage.db
      .selectFrom('conversations')
      .selectAll()
      .where('project_id', 'in', [...projectIds])
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#row(r));
  }

  /** Conversations whose group holds this device (to remove it when it is revoked). */
  async withDevice(deviceId: string): Promise<string[]> {
    const rows = await this.#storage.db
      .selectFrom('conversation_cursors')
      .select('conversation_id')
      .where('device_id', '=', deviceId)
      .where('removed_seq', 'is', null)
      .execute();
    return rows.map((r) => r.conversation_id);
  }

  async findDirect(projectId: string, a: string, b: string): Promise<Conversation | null> {
    const r = await this.#storage.db
      .selectFrom('conversations')
      .selectAll()
      .where('direct_key', '=', directKey(projectId, a, b))
      .executeTakeFirst();
    return r ? this.#row(r) : null;
  }

  async create(
    input: {
      projectId: string;
      kind: 'channel' | 'direct';
      name: string | null;
      participants: [string, string] | null;
      ciphersuite: MlsCiphersuite;
      createdBy: string;
    },
    now: Date,
  ): Promise<Conversation> {
    const id = randomUUID();
    const participants = input.participants ? [...input.participants].sort() : null;
    await this.#storage.db
      .insertInto('conversations')
      .values({
        id,
        project_id: input.projectId,
        kind: input.kind,
        name_enc:
          input.name === null
            ? null
            : this.#storage.fields.encrypt(
                { table: 'conversations', column: 'name', rowId: id },
                input.name,
              ),
        direct_key:
          participants === null
            ? null
            : directKey(input.projectId, participants[0] as string, participants[1] as string),
        participants: participants === null ? null : JSON.stringify(participants),
        // Random, so group ids say nothing about the conversation and never repeat.
        group_id: randomBytes(32).toString('base64url'),
        ciphersuite: input.ciphersuite,
        epoch: null,
        roster: '[]',
        group_info: null,
        pending: '[]',
        last_seq: 0,
        created_by: input.createdBy,
        created_at: now.toISOString(),
      })
      .execute();
    return (await this.get(id)) as Conversation;
  }

  /**
   * Moves the group from `fromEpoch` (null: not established) to the
   * transition's state, only if no other handshake got there first: the
   * compare-and-set that makes the first valid commit win. Returns the
   * sequence number reserved for the handshake message, or null when lost.
   */
  async transition(
    id: string,
    fromEpoch: number | null,
    to: GroupTransition,
    reserveSeqs: number,
  ): Promise<number | null> {
    const current = await this.get(id);
    if (!current || current.epoch !== fromEpoch) return null;
    const q = this.#storage.db
      .updateTable('conversations')
      .set({
        epoch: to.epoch,
        roster: JSON.stringify(to.roster),
        group_info: to.groupInfo,
        pending: JSON.stringify(to.pending),
        last_seq: current.lastSeq + reserveSeqs,
      })
      .where('id', '=', id)
      .where('last_seq', '=', current.lastSeq);
    const result = await (fromEpoch === null
      ? q.where('epoch', 'is', null)
      : q.where('epoch', '=', fromEpoch)
    ).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? current.lastSeq + 1 : null;
  }

  /**
   * Starts the conversation over with a new, not yet established group (a
   * fresh random group id), if it is still at `fromEpoch`. The log keeps its
   * positions; the next establishment starts a new epoch 0.
   */
  async resetGroup(id: string, fromEpoch: number | null): Promise<boolean> {
    if (fromEpoch === null) return false;
    const result = await this.#storage.db
      .updateTable('conversations')
      .set({
        epoch: null,
        roster: '[]',
        group_info: null,
        pending: '[]',
        group_id: randomBytes(32).toString('base64url'),
      })
      .where('id', '=', id)
      .where('epoch', '=', fromEpoch)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Reserves the next sequence number for an application message, only in
   * `epoch` and only while no removal waits to be committed.
   */
  async reserveApplicationSeq(
    id: string,
    epoch: number,
  ): Promise<{ seq: number } | { refused: 'epoch' | 'pending' }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.get(id);
      if (!current || current.epoch !== epoch) return { refused: 'epoch' };
      if (current.pending.length > 0) return { refused: 'pending' };
      const result = await this.#storage.db
        .updateTable('conversations')
        .set({ last_seq: current.lastSeq + 1 })
        .where('id', '=', id)
        .where('epoch', '=', epoch)
        .where('pending', '=', '[]')
        .where('last_seq', '=', current.lastSeq)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) return { seq: current.lastSeq + 1 };
    }
    throw new Error('could not reserve a sequence number (contention)');
  }
}

function directKey(projectId: string, a: string, b: string): string {
  const [x, y] = [a, b].sort();
  return `${projectId}:${x}:${y}`;
}
