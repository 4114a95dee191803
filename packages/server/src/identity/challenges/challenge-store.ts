import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Storage } from '../../storage/storage.ts';
import type { Clock, SecretHasher } from '../secret-hasher.ts';

/** What a challenge is for; each kind is consumed only as itself. */
export type ChallengeKind =
  | 'webauthn-registration'
  | 'webauthn-authentication'
  | 'setup-link'
  | 'enrolment-link'
  | 'second-factor'
  | 'sms'
  | 'oidc-login';

export interface IssuedChallenge {
  /** The secret handle given to the client (never stored: only its keyed hash). */
  id: string;
  expiresAt: Date;
}

export interface ConsumedChallenge<T> {
  userId: string | null;
  data: T;
}

/**
 * One-time, expiring challenges: WebAuthn challenges, setup and enrolment
 * links, pending second factors, SMS codes. Consuming is atomic (a single
 * UPDATE … WHERE used_at IS NULL), so a replayed or raced challenge is
 * accepted exactly once.
 */
export class ChallengeStore {
  readonly #storage: Storage;
  readonly #hasher: SecretHasher;
  readonly #clock: Clock;

  constructor(opts: { storage: Storage; hasher: SecretHasher; clock: Clock }) {
    this.#storage = opts.storage;
    this.#hasher = opts.hasher;
    this.#clock = opts.clock;
  }

  async issue<T>(
    kind: ChallengeKind,
    opts: { userId?: string | null; data: T; ttlMs: number },
  ): Promise<IssuedChallenge> {
    const id = randomBytes(32).toString('base64url');
    const idHash = this.#hasher.hash(`challenge:${kind}`, id);
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + opts.ttlMs);
    await this.#storage.db
      .insertInto('auth_challenges')
      .values({
        id_hash: idHash,
        kind,
        user_id: opts.userId ?? null,
        data_enc: this.#storage.fields.encrypt(
          { table: 'auth_challenges', column: 'data', rowId: idHash },
          JSON.stringify(opts.data),
        ),
        created_at: now.toISOString(),
        expires_at: expiresAt.toISOString(),
        used_at: null,
      })
      .execute();
    return { id, expiresAt };
  }

  /** Reads without consuming (e.g. to show a setup page); null when unknown, used or expired. */
  async peek<T>(kind: ChallengeKind, id: string): Promise<ConsumedChallenge<T> | null> {
    const idHash = this.#hasher.hash(`challenge:${kind}`, id);
    const row = await this.#storage.db
      .selectFrom('auth_challenges')
      .selectAll()
      .where('id_hash', '=', idHash)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', this.#clock.now().toISOString())
      .executeTakeFirst();
    if (!row) return null;
    return { userId: row.user_id, data: this.#decode<T>(idHash, row.data_enc) };
  }

  /** Marks the challenge used and returns it; null when unknown, already used or expired. */
  async consume<T>(kind: ChallengeKind, id: string): Promise<ConsumedChallenge<T> | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) return null;
    const idHash = this.#hasher.hash(`challenge:${kind}`, id);
    const now = this.#clock.now().toISOString();
    const result = await this.#storage.db
      .updateTable('auth_challenges')
      .set({ used_at: now })
      .where('id_hash', '=', idHash)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return null;
    const row = await this.#storage.db
      .selectFrom('auth_challenges')
      .select(['user_id', 'data_enc'])
      .where('id_hash', '=', idHash)
      .executeTakeFirstOrThrow();
    return { userId: row.user_id, data: this.#decode<T>(idHash, row.data_enc) };
  }

  /**
   * Counts one try against a challenge that allows several (SMS codes);
   * false once `max` tries were spent. Counted before the caller compares,
   * so parallel guesses cannot exceed the budget.
   */
  async spendAttempt(kind: ChallengeKind, id: string, max: number): Promise<boolean> {
    const idHash = this.#hasher.hash(`challenge:${kind}`, id);
    const now = this.#clock.now().toISOString();
    const result = await this.#storage.db
      .updateTable('auth_challenges')
      .set({ attempts: sql`attempts + 1` })
      .where('id_hash', '=', idHash)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .where('attempts', '<', max)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Drops challenges that expired more than a day ago (they are useless; keep the table small). */
  async purgeExpired(): Promise<number> {
    const cutoff = new Date(this.#clock.now().getTime() - 24 * 3600 * 1000).toISOString();
    const result = await this.#storage.db
      .deleteFrom('auth_challenges')
      .where('expires_at', '<', cutoff)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #decode<T>(idHash: string, dataEnc: string | null): T {
    if (dataEnc === null) return null as T;
    return JSON.parse(
      this.#storage.fields.decrypt(
        { table: 'auth_challenges', column: 'data', rowId: idHash },
        dataEnc,
      ),
    ) as T;
  }
}
