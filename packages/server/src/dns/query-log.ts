import { randomUUID } from 'node:crypto';
import type { QueryLogEntry } from '@bulwark/dns';
import type { Selectable } from 'kysely';
import { BulwarkError } from '../errors.ts';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

/** A kept query as the API shows it. */
export interface LoggedQuery {
  id: string;
  at: string;
  /** The address (full mode) or the network (anonymised mode). */
  client: string | null;
  clientId: string | null;
  groupId: string | null;
  protocol: string;
  name: string;
  type: string;
  rcode: string;
  outcome: string;
  category: string | null;
  rule: string | null;
  upstream: string | null;
  durationMs: number;
}

type Row = Selectable<Tables['dns_query_log']>;

/** Rows per INSERT: well under both back ends' limits on bound parameters. */
const insertChunk = 500;

/**
 * The query log. Who asked (client), what (name) and which rule blocked it
 * are encrypted; the name also has a blind index, per org, for the `name`
 * filter, so an exact search never decrypts the log.
 */
export class QueryLogStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** Per org, so equal names in two orgs' logs do not correlate in a dump. */
  nameIndex(orgId: string | null, name: string): string {
    return this.#storage.fields.blindIndex('dns_query_log.name', `${orgId ?? ''}:${name}`);
  }

  async insert(entries: readonly QueryLogEntry[]): Promise<void> {
    const fields = this.#storage.fields;
    for (let i = 0; i < entries.length; i += insertChunk) {
      const rows = entries.slice(i, i + insertChunk).map((e) => {
        const id = randomUUID();
        const ctx = (column: string) => ({ table: 'dns_query_log', column, rowId: id });
        return {
          id,
          at: e.at,
          org_id: e.orgId,
          group_id: e.groupId,
          client_enc: fields.encryptNullable(ctx('client'), e.client),
          client_id: e.clientId,
          protocol: e.protocol,
          name_enc: fields.encrypt(ctx('name'), e.name),
          name_index: this.nameIndex(e.orgId, e.name),
          type: e.type,
          rcode: e.rcode,
          outcome: e.outcome,
          category: e.category,
          rule_enc: fields.encryptNullable(ctx('rule'), e.rule),
          upstream: e.upstream,
          duration_ms: e.durationMs,
        };
      });
      await this.#storage.db.insertInto('dns_query_log').values(rows).execute();
    }
  }

  /**
   * One org's queries, newest first. `before` is the cursor of the last
   * entry of the previous page; `next` is null on the last page.
   */
  async list(
    orgId: string,
    opts: { limit: number; before?: string | undefined; name?: string | undefined },
  ): Promise<{ queries: LoggedQuery[]; next: string | null }> {
    let query = this.#storage.db
      .selectFrom('dns_query_log')
      .selectAll()
      .where('org_id', '=', orgId);
    if (opts.name !== undefined)
      query = query.where('name_index', '=', this.nameIndex(orgId, opts.name));
    if (opts.before !== undefined) {
      const { at, id } = decodeCursor(opts.before);
      query = query.where((eb) =>
        eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]),
      );
    }
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(opts.limit + 1)
      .execute();
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    return {
      queries: page.map((r) => this.#decode(r)),
      next: rows.length > opts.limit && last ? encodeCursor(last.at, last.id) : null,
    };
  }

  /** Deletes one org's entries (null: entries of no org) older than `before`. */
  async pruneOrg(orgId: string | null, before: Date): Promise<number> {
    let query = this.#storage.db.deleteFrom('dns_query_log').where('at', '<', before.toISOString());
    query = orgId === null ? query.where('org_id', 'is', null) : query.where('org_id', '=', orgId);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deletes one client group's entries older than `before` (its project keeps them shorter). */
  async pruneGroup(groupId: string, before: Date): Promise<number> {
    const result = await this.#storage.db
      .deleteFrom('dns_query_log')
      .where('group_id', '=', groupId)
      .where('at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #decode(r: Row): LoggedQuery {
    const fields = this.#storage.fields;
    const ctx = (column: string) => ({ table: 'dns_query_log', column, rowId: r.id });
    return {
      id: r.id,
      at: r.at,
      client: fields.decryptNullable(ctx('client'), r.client_enc),
      clientId: r.client_id,
      groupId: r.group_id,
      protocol: r.protocol,
      name: fields.decrypt(ctx('name'), r.name_enc),
      type: r.type,
      rcode: r.rcode,
      outcome: r.outcome,
      category: r.category,
      rule: fields.decryptNullable(ctx('rule'), r.rule_enc),
      upstream: r.upstream,
      durationMs: Number(r.duration_ms),
    };
  }
}

/** Opaque to clients; it only ever names a position in the log they may read anyway. */
function encodeCursor(at: string, id: string): string {
  return Buffer.from(`${at}|${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(cursor)
    ? Buffer.from(cursor, 'base64url').toString('utf8')
    : '';
  const match = /^(\d{4}-\d{2}-\d{2}T[\d:.]+Z)\|([0-9a-f-]{36})$/.exec(text);
  if (!match?.[1] || !match[2]) {
    throw new BulwarkError('bad_request', 'before: not a cursor this log handed out (use "next").');
  }
  return { at: match[1], id: match[2] };
}
