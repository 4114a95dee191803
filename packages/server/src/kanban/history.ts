import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage/storage.ts';

export interface HistoryRow {
  field: string;
  value: unknown;
  hlc: string;
  opId: string;
  actorId: string;
  /** applied: the value took effect; lost: a concurrent edit with a later clock won. */
  outcome: 'applied' | 'lost';
  lostTo: string | null;
  createdAt: string;
}

/**
 * Every value an issue's fields ever had, including those that lost a
 * concurrent edit: nothing a person typed is silently dropped.
 */
export class HistoryStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async add(issueId: string, row: Omit<HistoryRow, 'createdAt'>, now: Date): Promise<void> {
    const id = randomUUID();
    await this.#storage.db
      .insertInto('issue_history')
      .values({
        id,
        issue_id: issueId,
        field: row.field,
        value_enc: this.#storage.fields.encrypt(
          { table: 'issue_history', column: 'value', rowId: id },
          JSON.stringify(row.value ?? null),
        ),
        hlc: row.hlc,
        op_id: row.opId,
        actor_id: row.actorId,
        outcome: row.outcome,
        lost_to: row.lostTo,
        created_at: now.toISOString(),
      })
      .execute();
  }

  async of(issueId: string): Promise<HistoryRow[]> {
    const rows = await this.#storage.db
      .selectFrom('issue_history')
      .selectAll()
      .where('issue_id', '=', issueId)
      .orderBy('hlc')
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      field: r.field,
      value: JSON.parse(
        this.#storage.fields.decrypt(
          { table: 'issue_history', column: 'value', rowId: r.id },
          r.value_enc,
        ),
      ) as unknown,
      hlc: r.hlc,
      opId: r.op_id,
      actorId: r.actor_id,
      outcome: r.outcome,
      lostTo: r.lost_to,
      createdAt: r.created_at,
    }));
  }
}

/**
 * Applied client operations, by (actor, client op id): a retried operation
 * gets the answer it got the first time and changes nothing. Scoped by actor
 * so nobody can block another person's op by guessing its id.
 */
export class OpLog {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  key(actorId: string, opId: string): string {
    return `${actorId}:${opId}`;
  }

  async result(actorId: string, opId: string): Promise<unknown | undefined> {
    const row = await this.#storage.db
      .selectFrom('kanban_ops')
      .select('result')
      .where('op_key', '=', this.key(actorId, opId))
      .executeTakeFirst();
    return row ? (JSON.parse(row.result) as unknown) : undefined;
  }

  async remember(
    actorId: string,
    opId: string,
    projectId: string,
    result: unknown,
    now: Date,
  ): Promise<void> {
    await this.#storage.db
      .insertInto('kanban_ops')
      .values({
        op_key: this.key(actorId, opId),
        project_id: projectId,
        result: JSON.stringify(result),
        applied_at: now.toISOString(),
      })
      .execute();
  }
}
