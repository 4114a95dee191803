import {
  canonicalJsonString,
  type Ed25519NoteSigner,
  equalBytes,
  fromHex,
  leafHash,
  type ObjectVersion,
  signCheckpoint,
  toHex,
  verifyCheckpoint,
  versionHash,
} from '@bulwark/ledger';
import { type Kysely, sql } from 'kysely';
import { BulwarkError } from '../../errors.ts';
import type { Clock } from '../../identity/secret-hasher.ts';
import { SubjectKeys } from '../../keys/subject-keys.ts';
import type { Tables } from '../../storage/schema.ts';
import type { Storage } from '../../storage/storage.ts';
import { MerkleTree, type NodeStore } from '../merkle/tree.ts';
import { type AuditEntry, type AuditEvent, buildEntry, encodeEntry, personalAad } from './entry.ts';
import { DbNodeStore } from './node-store.ts';

/** A node store that keeps nothing: enough for a tree that is only appended to and asked for its current root. */
const frontierOnly: NodeStore = { get: () => undefined, put: () => {} };

/** One constant per installation's ledger: serialises appends across PostgreSQL nodes. */
const APPEND_LOCK = 0x42_57_4b_4c;

export interface SignedHead {
  size: number;
  rootHash: string;
  checkpoint: string;
}

export interface EntryFilter {
  orgId?: string;
  projectId?: string;
  actorId?: string;
  /** An exact action, or `domain.*` for every action of a domain. */
  action?: string;
  since?: Date;
  until?: Date;
  issue?: string;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
/** LIKE with backslash as the escape character, the same on SQLite and PostgreSQL. */
const likeEscaped = (column: 'action' | 'entry', pattern: string) =>
  sql<boolean>`${sql.ref(column)} like ${pattern} escape '\\'`;

export type VerifyResult =
  | { ok: true; size: number; heads: number }
  | { ok: false; size: number; firstBadSeq: number | null; reason: string };

/**
 * The audit ledger (SECURITY.md): every entry is appended in the same
 * transaction as the change it records — if the entry cannot be written, the
 * change does not happen. Entries are RFC 8785 canonical JSON, the leaves of
 * an RFC 9162 Merkle tree kept incrementally; tree heads are signed as C2SP
 * checkpoints with the ledger key (derived from the root key).
 */
export class AuditLedger {
  readonly #storage: Storage;
  readonly #signer: Ed25519NoteSigner;
  readonly #clock: Clock;
  readonly #hashSource: (source: string) => string;
  readonly #subjects: SubjectKeys;

  constructor(opts: {
    storage: Storage;
    signer: Ed25519NoteSigner;
    clock: Clock;
    /** Keyed hash for source addresses: the ledger never holds an address in the clear. */
    hashSource: (source: string) => string;
  }) {
    this.#storage = opts.storage;
    this.#signer = opts.signer;
    this.#clock = opts.clock;
    this.#hashSource = opts.hashSource;
    this.#subjects = new SubjectKeys(opts.storage.fields);
  }

  /** The checkpoint origin and the log key's name. */
  get origin(): string {
    return this.#signer.name;
  }

  /** `<name>+<keyhash>+<key>`: what clients and witnesses pin. */
  get verifierKey(): string {
    return this.#signer.verifierKey();
  }

  /** Appends inside the caller's transaction; throws (so the caller rolls back) on any failure. */
  async append(trx: Kysely<Tables>, event: AuditEvent): Promise<{ seq: number; leafHash: string }> {
    if (this.#storage.backend === 'postgres') {
      await sql`select pg_advisory_xact_lock(${APPEND_LOCK})`.execute(trx);
    }
    const size = await this.#size(trx);
    const tree = await MerkleTree.open(new DbNodeStore(trx), size);
    const now = this.#clock.now();
    const entry = buildEntry(
      size,
      now,
      event,
      (s) => this.#hashSource(s),
      await this.#sealPersonal(trx, size, event, now),
    );
    const text = encodeEntry(entry);
    const appended = await tree.append(new TextEncoder().encode(text));
    if (appended.index !== size) throw new Error('ledger index out of step');
    const hash = toHex(appended.leafHash);
    await trx
      .insertInto('audit_entries')
      .values({
        seq: size,
        entry: text,
        leaf_hash: hash,
        created_at: entry.time,
        org_id: entry.org ?? null,
        project_id: entry.project ?? null,
        actor_id: entry.actor.userId,
        action: entry.action,
      })
      .execute();
    if (entry.target.id !== null) await appendVersion(trx, entry, hash);
    return { seq: size, leafHash: hash };
  }

  /** The actor's address, sealed under their own key (null without a person or once erased). */
  async #sealPersonal(
    trx: Kysely<Tables>,
    seq: number,
    event: AuditEvent,
    now: Date,
  ): Promise<AuditEntry['personal']> {
    const subject = event.actor.userId;
    if (!subject || !event.actor.source) return null;
    const sealed = await this.#subjects.seal(
      trx,
      subject,
      { source: event.actor.source },
      personalAad(seq, subject),
      now,
    );
    return sealed === null ? null : { subject, sealed };
  }

  /** What an entry holds for its person: the data, `erased`, or null when it holds none. */
  async revealPersonal(entry: AuditEntry): Promise<unknown> {
    const personal = entry.personal;
    if (!personal) return null;
    return this.#subjects.open(
      this.#storage.db,
      personal.subject,
      personal.sealed,
      personalAad(entry.seq, personal.subject),
    );
  }

  /** Crypto-shreds a person's data in every entry, inside the caller's transaction. */
  async erasePerson(trx: Kysely<Tables>, subject: string): Promise<void> {
    await this.#subjects.erase(trx, subject, this.#clock.now());
  }

  /** Appends in a transaction of its own (events with no other state change, e.g. unseal). */
  async record(event: AuditEvent): Promise<{ seq: number; leafHash: string }> {
    return this.#storage.db.transaction().execute((trx) => this.append(trx, event));
  }

  /** Signs the current head (unless it is signed already) and keeps it. */
  async signHead(): Promise<SignedHead> {
    return this.#storage.db.transaction().execute(async (trx) => {
      if (this.#storage.backend === 'postgres') {
        await sql`select pg_advisory_xact_lock(${APPEND_LOCK})`.execute(trx);
      }
      const size = await this.#size(trx);
      const existing = await trx
        .selectFrom('audit_heads')
        .selectAll()
        .where('size', '=', size)
        .executeTakeFirst();
      if (existing) {
        return { size, rootHash: existing.root_hash, checkpoint: existing.checkpoint };
      }
      const tree = await MerkleTree.open(new DbNodeStore(trx), size);
      const root = await tree.root();
      const checkpoint = signCheckpoint(
        { origin: this.origin, size, rootHash: root },
        this.#signer,
      );
      await trx
        .insertInto('audit_heads')
        .values({
          size,
          root_hash: toHex(root),
          checkpoint,
          created_at: this.#clock.now().toISOString(),
        })
        .execute();
      return { size, rootHash: toHex(root), checkpoint };
    });
  }

  async heads(): Promise<SignedHead[]> {
    const rows = await this.#storage.db
      .selectFrom('audit_heads')
      .selectAll()
      .orderBy('size')
      .execute();
    return rows.map((r) => ({
      size: Number(r.size),
      rootHash: r.root_hash,
      checkpoint: r.checkpoint,
    }));
  }

  async latestHead(): Promise<SignedHead | null> {
    const row = await this.#storage.db
      .selectFrom('audit_heads')
      .selectAll()
      .orderBy('size', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row
      ? { size: Number(row.size), rootHash: row.root_hash, checkpoint: row.checkpoint }
      : null;
  }

  /**
   * Entries from a sequence number on, optionally only those matching a
   * filter (an org, a project, an actor, an action or `domain.*`, a time
   * range, a cited issue). An entry whose content retention dropped comes
   * back with `entry: null` and its leaf hash.
   */
  async records(
    from: number,
    limit: number,
    filter: EntryFilter = {},
  ): Promise<{ seq: number; entry: AuditEntry | null; leafHash: string }[]> {
    const f = filter;
    const rows = await this.#storage.db
      .selectFrom('audit_entries')
      .selectAll()
      .where('seq', '>=', from)
      .$if(f.orgId !== undefined, (q) => q.where('org_id', '=', f.orgId ?? ''))
      .$if(f.projectId !== undefined, (q) => q.where('project_id', '=', f.projectId ?? ''))
      .$if(f.actorId !== undefined, (q) => q.where('actor_id', '=', f.actorId ?? ''))
      .$if(f.action !== undefined, (q) => {
        const action = f.action ?? '';
        return action.endsWith('.*')
          ? q.where(likeEscaped('action', `${escapeLike(action.slice(0, -1))}%`))
          : q.where('action', '=', action);
      })
      .$if(f.since !== undefined, (q) => q.where('created_at', '>=', f.since?.toISOString() ?? ''))
      .$if(f.until !== undefined, (q) => q.where('created_at', '<', f.until?.toISOString() ?? ''))
      // Canonical JSON writes `"issue":"KEY-1"` exactly one way, so a substring match is exact.
      .$if(f.issue !== undefined, (q) =>
        q.where(likeEscaped('entry', `%${escapeLike(`"issue":${JSON.stringify(f.issue)}`)}%`)),
      )
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      entry: r.pruned_at === null ? (JSON.parse(r.entry) as AuditEntry) : null,
      leafHash: r.leaf_hash,
    }));
  }

  /** The entries that still hold their content (see records() for all of them). */
  async entries(
    from: number,
    limit: number,
    filter: EntryFilter = {},
  ): Promise<{ seq: number; entry: AuditEntry; leafHash: string }[]> {
    const records = await this.records(from, limit, filter);
    return records.flatMap((r) => (r.entry ? [{ ...r, entry: r.entry }] : []));
  }

  /**
   * Retention: empties the content of an org's (or one project's) entries
   * older than `before`, keeping every leaf hash, so the tree, the signed
   * heads and every proof stay valid. Returns how many were emptied.
   */
  async prune(scope: { orgId: string } | { projectId: string }, before: Date): Promise<number> {
    const now = this.#clock.now().toISOString();
    const result = await this.#storage.db
      .updateTable('audit_entries')
      .set({ entry: '', pruned_at: now })
      .$if('orgId' in scope, (q) => q.where('org_id', '=', 'orgId' in scope ? scope.orgId : ''))
      .$if('projectId' in scope, (q) =>
        q.where('project_id', '=', 'projectId' in scope ? scope.projectId : ''),
      )
      .where('created_at', '<', before.toISOString())
      .where('pruned_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** An object's provenance chain, oldest first, each version with its ledger entry. */
  async history(type: string, id: string): Promise<(ObjectVersion & { entry: AuditEntry })[]> {
    const rows = await this.#storage.db
      .selectFrom('object_versions')
      .innerJoin('audit_entries', 'audit_entries.seq', 'object_versions.seq')
      .select([
        'object_versions.version',
        'object_versions.seq',
        'object_versions.leaf_hash',
        'object_versions.after_sha256',
        'object_versions.prev_hash',
        'object_versions.hash',
        'audit_entries.entry',
      ])
      .where('object_versions.object_type', '=', type)
      .where('object_versions.object_id', '=', id)
      .orderBy('object_versions.version')
      .execute();
    return rows.map((r) => ({
      type,
      id,
      version: Number(r.version),
      seq: Number(r.seq),
      leafHash: r.leaf_hash,
      afterSha256: r.after_sha256,
      prevHash: r.prev_hash,
      hash: r.hash,
      entry: JSON.parse(r.entry) as AuditEntry,
    }));
  }

  async inclusionProof(seq: number, size: number): Promise<string[]> {
    const tree = await this.#openAt(size);
    if (seq < 0 || seq >= size)
      throw new BulwarkError('bad_request', `seq must be below the tree size ${size}`);
    return (await tree.inclusionProof(seq, size)).map(toHex);
  }

  async consistencyProof(from: number, to: number): Promise<string[]> {
    const tree = await this.#openAt(to);
    if (from < 0 || from > to) throw new BulwarkError('bad_request', 'need 0 ≤ from ≤ to');
    return (await tree.consistencyProof(from, to)).map(toHex);
  }

  /**
   * Recomputes everything from storage: each entry's canonical form and leaf
   * hash (against the one stored at append time), the tree, and every signed
   * head's root and signature. Names the first entry that does not match.
   */
  async verify(onProgress?: (done: number, total: number) => void): Promise<VerifyResult> {
    const total = await this.#size(this.#storage.db);
    const heads = await this.#storage.db
      .selectFrom('audit_heads')
      .selectAll()
      .orderBy('size')
      .execute();
    const verifier = this.#signer.verifier();
    // Heads are checked as the tree reaches their size, which needs only the
    // tree's frontier: nothing else is kept, so memory stays O(log n).
    const tree = await MerkleTree.open(frontierOnly, 0);
    let headIndex = 0;
    const checkHeadsUpTo = async (size: number): Promise<VerifyResult | null> => {
      while (headIndex < heads.length && Number(heads[headIndex]?.size) <= size) {
        const head = heads[headIndex];
        headIndex += 1;
        if (!head || Number(head.size) !== size) continue;
        try {
          const { checkpoint } = verifyCheckpoint(head.checkpoint, [verifier], this.origin);
          const root = await tree.root(size);
          if (checkpoint.size !== size || !equalBytes(checkpoint.rootHash, root)) {
            return {
              ok: false,
              size: total,
              firstBadSeq: null,
              reason: `the entries do not match the signed head of size ${size}: an entry before it was changed, removed or reordered`,
            };
          }
        } catch (err) {
          return {
            ok: false,
            size: total,
            firstBadSeq: null,
            reason: `the signed head of size ${size} does not verify: ${(err as Error).message}`,
          };
        }
      }
      return null;
    };
    const zero = await checkHeadsUpTo(0);
    if (zero) return zero;
    const batch = 2000;
    for (let from = 0; from < total; from += batch) {
      const rows = await this.#storage.db
        .selectFrom('audit_entries')
        .selectAll()
        .where('seq', '>=', from)
        .where('seq', '<', from + batch)
        .orderBy('seq')
        .execute();
      // The leaf hashes stored at append time, fetched per batch (not per entry).
      const leafNodes = new Map(
        (
          await this.#storage.db
            .selectFrom('audit_nodes')
            .select(['idx', 'hash'])
            .where('level', '=', 0)
            .where('idx', '>=', from)
            .where('idx', '<', from + batch)
            .execute()
        ).map((n) => [Number(n.idx), n.hash]),
      );
      for (const row of rows) {
        const seq = Number(row.seq);
        if (seq !== tree.size) {
          return {
            ok: false,
            size: total,
            firstBadSeq: tree.size,
            reason: `entry ${tree.size} is missing`,
          };
        }
        if (row.pruned_at !== null) {
          // Retention emptied the content: the leaf hash kept at append still carries the tree.
          const kept = leafNodes.get(seq);
          if (kept === undefined || kept !== row.leaf_hash || row.entry !== '') {
            return {
              ok: false,
              size: total,
              firstBadSeq: seq,
              reason: `entry ${seq} is marked pruned but does not match its leaf hash`,
            };
          }
          await tree.appendLeafHash(fromHex(kept));
          const bad = await checkHeadsUpTo(tree.size);
          if (bad) return bad;
          continue;
        }
        let canonical: string;
        try {
          const parsed = JSON.parse(row.entry) as AuditEntry;
          canonical = canonicalJsonString(parsed);
          if (parsed.seq !== seq) throw new Error(`it claims to be entry ${parsed.seq}`);
          // The org/project index must say what the entry says, or an org's view could hide it.
          if ((row.org_id ?? null) !== (parsed.org ?? null)) {
            throw new Error('its org index column disagrees with the entry');
          }
          if ((row.project_id ?? null) !== (parsed.project ?? null)) {
            throw new Error('its project index column disagrees with the entry');
          }
          if ((row.actor_id ?? null) !== parsed.actor.userId || row.action !== parsed.action) {
            throw new Error('its actor or action index column disagrees with the entry');
          }
        } catch (err) {
          return {
            ok: false,
            size: total,
            firstBadSeq: seq,
            reason: `entry ${seq} is malformed: ${(err as Error).message}`,
          };
        }
        const leaf = leafHash(new TextEncoder().encode(row.entry));
        const atAppend = leafNodes.get(seq);
        const hex = toHex(leaf);
        if (canonical !== row.entry || hex !== row.leaf_hash || atAppend !== hex) {
          return {
            ok: false,
            size: total,
            firstBadSeq: seq,
            reason: `entry ${seq} was changed after it was written`,
          };
        }
        await tree.appendLeafHash(leaf);
        const bad = await checkHeadsUpTo(tree.size);
        if (bad) return bad;
      }
      onProgress?.(tree.size, total);
    }
    if (tree.size !== total) {
      return {
        ok: false,
        size: total,
        firstBadSeq: tree.size,
        reason: `entry ${tree.size} is missing`,
      };
    }
    if (headIndex < heads.length) {
      return {
        ok: false,
        size: total,
        firstBadSeq: null,
        reason: 'a signed head is larger than the ledger: entries were truncated',
      };
    }
    return { ok: true, size: total, heads: heads.length };
  }

  /** max(seq) + 1 through the primary key: O(log n), where count(*) would scan. */
  async #size(db: Kysely<Tables>): Promise<number> {
    const row = await db
      .selectFrom('audit_entries')
      .select((eb) => eb.fn.max('seq').as('m'))
      .executeTakeFirst();
    return row?.m === null || row?.m === undefined ? 0 : Number(row.m) + 1;
  }

  async #openAt(size: number): Promise<MerkleTree> {
    const current = await this.#size(this.#storage.db);
    if (!Number.isSafeInteger(size) || size < 0 || size > current) {
      throw new BulwarkError('bad_request', `size must be between 0 and ${current}`);
    }
    return MerkleTree.open(new DbNodeStore(this.#storage.db), current);
  }
}

/** The next link of the target object's provenance chain, in the entry's transaction. */
async function appendVersion(trx: Kysely<Tables>, entry: AuditEntry, leafHashHex: string) {
  const { type, id } = entry.target;
  if (id === null) return;
  const last = await trx
    .selectFrom('object_versions')
    .select(['version', 'hash'])
    .where('object_type', '=', type)
    .where('object_id', '=', id)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  const version = {
    type,
    id,
    version: (last?.version ?? 0) + 1,
    seq: entry.seq,
    leafHash: leafHashHex,
    afterSha256: entry.afterSha256,
    prevHash: last?.hash ?? null,
  };
  await trx
    .insertInto('object_versions')
    .values({
      object_type: type,
      object_id: id,
      version: version.version,
      seq: version.seq,
      leaf_hash: version.leafHash,
      after_sha256: version.afterSha256,
      prev_hash: version.prevHash,
      hash: versionHash(version),
    })
    .execute();
}
