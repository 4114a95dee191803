import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { BulwarkError } from '../errors.ts';
import { newToken, type SecretHasher } from '../identity/secret-hasher.ts';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

export interface Invitation {
  id: string;
  projectId: string;
  role: 'admin' | 'member' | 'viewer';
  /** Bound to exactly one of: an e-mail address, or every address of a domain. */
  email: string | null;
  domain: string | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  state: 'open' | 'used' | 'revoked' | 'expired';
  usedBy: string | null;
}

const normaliseEmail = (v: string) => v.trim().toLowerCase();
export const domainOf = (email: string) => normaliseEmail(email).split('@').pop() ?? '';
const TOKEN_PREFIX = 'bwi';

/**
 * Invitations into a project: single use, expiring, revocable, bound to an
 * address or a domain. Only the token's keyed hash is stored; the token is
 * shown once, to the inviter, to pass on.
 */
export class InvitationStore {
  readonly #storage: Storage;
  readonly #hasher: SecretHasher;

  constructor(storage: Storage, hasher: SecretHasher) {
    this.#storage = storage;
    this.#hasher = hasher;
  }

  async create(
    input: {
      projectId: string;
      role: Invitation['role'];
      email: string | null;
      domain: string | null;
      ttlHours: number;
    },
    createdBy: string,
    now: Date,
  ): Promise<{ invitation: Invitation; token: string }> {
    const { fields } = this.#storage;
    const id = randomUUID();
    const token = newToken(TOKEN_PREFIX);
    const ctx = (column: string) => ({ table: 'invitations', column, rowId: id });
    const email = input.email === null ? null : normaliseEmail(input.email);
    const domain = input.domain === null ? null : normaliseEmail(input.domain);
    await this.#storage.db
      .insertInto('invitations')
      .values({
        id,
        token_hash: this.#hasher.hash('invitation', token),
        project_id: input.projectId,
        role: input.role,
        email_enc: fields.encryptNullable(ctx('email'), email),
        email_index:
          email === null ? null : fields.blindIndex('invitations.email', email, normaliseEmail),
        domain_enc: fields.encryptNullable(ctx('domain'), domain),
        domain_index: null,
        created_by: createdBy,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + input.ttlHours * 3600_000).toISOString(),
        used_by: null,
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return { invitation: (await this.get(id, now)) as Invitation, token };
  }

  async get(id: string, now: Date): Promise<Invitation | null> {
    const row = await this.#storage.db
      .selectFrom('invitations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row, now) : null;
  }

  async byToken(token: string, now: Date): Promise<Invitation | null> {
    if (!/^bwi_[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const row = await this.#storage.db
      .selectFrom('invitations')
      .selectAll()
      .where('token_hash', '=', this.#hasher.hash('invitation', token))
      .executeTakeFirst();
    return row ? this.#decode(row, now) : null;
  }

  async forProject(projectId: string, now: Date): Promise<Invitation[]> {
    const rows = await this.#storage.db
      .selectFrom('invitations')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#decode(r, now));
  }

  async revoke(id: string, now: Date): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('invitations')
      .set({ revoked_at: now.toISOString() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Marks the invitation used, atomically: of two concurrent acceptances
   * exactly one wins. Throws `link_invalid` saying why when it cannot be used.
   */
  async consume(invitation: Invitation, userId: string, now: Date): Promise<void> {
    if (invitation.state !== 'open') {
      throw new BulwarkError('link_invalid', `This invitation is ${invitation.state}.`);
    }
    const result = await this.#storage.db
      .updateTable('invitations')
      .set({ used_at: now.toISOString(), used_by: userId })
      .where('id', '=', invitation.id)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      throw new BulwarkError('link_invalid', 'This invitation was used already.');
    }
  }

  #decode(row: Selectable<Tables['invitations']>, now: Date): Invitation {
    const { fields } = this.#storage;
    const ctx = (column: string) => ({ table: 'invitations', column, rowId: row.id });
    const state: Invitation['state'] = row.used_at
      ? 'used'
      : row.revoked_at
        ? 'revoked'
        : row.expires_at <= now.toISOString()
          ? 'expired'
          : 'open';
    return {
      id: row.id,
      projectId: row.project_id,
      role: row.role,
      email: fields.decryptNullable(ctx('email'), row.email_enc),
      domain: fields.decryptNullable(ctx('domain'), row.domain_enc),
      createdBy: row.created_by,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      state,
      usedBy: row.used_by,
    };
  }
}
