import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

export interface StoredClient {
  id: string;
  groupId: string;
  name: string;
  /** SHA-256 (hex) of the client certificate's DER, for DNS over TLS. */
  certFingerprint: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** A client as the resolver needs it: with the token's hash, which the API never shows. */
export interface ActiveClient extends StoredClient {
  tokenHash: string;
}

type Row = Selectable<Tables['dns_clients']>;

/** A fresh DoH URL token: 256 random bits, base64url (it travels in a URL path). */
export function newClientToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What is stored of a token. A plain SHA-256 rather than a keyed hash: the
 * token is 256 random bits, so a dump gives nothing to guess at, and the
 * resolver can hash what a client presents without holding a server key
 * (types.ts, DnsClient.tokenHash).
 */
export function clientTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Registered DNS clients (devices). Only the token's hash is stored; the token is shown once. */
export class DnsClientStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async create(
    input: { groupId: string; name: string; tokenHash: string; certFingerprint: string | null },
    now: Date,
  ): Promise<StoredClient> {
    const id = randomUUID();
    const at = now.toISOString();
    await this.#storage.db
      .insertInto('dns_clients')
      .values({
        id,
        group_id: input.groupId,
        name_enc: this.#storage.fields.encrypt(
          { table: 'dns_clients', column: 'name', rowId: id },
          input.name,
        ),
        token_hash: input.tokenHash,
        cert_fingerprint: input.certFingerprint,
        created_at: at,
        revoked_at: null,
      })
      .execute();
    return {
      id,
      groupId: input.groupId,
      name: input.name,
      certFingerprint: input.certFingerprint,
      createdAt: at,
      revokedAt: null,
    };
  }

  async get(id: string): Promise<StoredClient | null> {
    const row = await this.#storage.db
      .selectFrom('dns_clients')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  /** Any client (revoked ones too) holding this certificate: fingerprints stay unique forever. */
  async withFingerprint(fingerprint: string): Promise<StoredClient | null> {
    const row = await this.#storage.db
      .selectFrom('dns_clients')
      .selectAll()
      .where('cert_fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async listForGroup(groupId: string): Promise<StoredClient[]> {
    const rows = await this.#storage.db
      .selectFrom('dns_clients')
      .selectAll()
      .where('group_id', '=', groupId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => this.#decode(r));
  }

  async countActive(groupId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('dns_clients')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('group_id', '=', groupId)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Every client not revoked, with its token hash: what the resolver recognises. */
  async listActive(): Promise<ActiveClient[]> {
    const rows = await this.#storage.db
      .selectFrom('dns_clients')
      .selectAll()
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ ...this.#decode(r), tokenHash: r.token_hash }));
  }

  async revoke(id: string, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('dns_clients')
      .set({ revoked_at: now.toISOString() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  #decode(r: Row): StoredClient {
    return {
      id: r.id,
      groupId: r.group_id,
      name: this.#storage.fields.decryptRecent(
        { table: 'dns_clients', column: 'name', rowId: r.id },
        r.name_enc,
      ),
      certFingerprint: r.cert_fingerprint,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    };
  }
}
