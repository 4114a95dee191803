import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../../errors.ts';
import type { LoginGate } from '../../policy/login-gate.ts';
import { type Clock, newToken, type SecretHasher } from '../secret-hasher.ts';
import type { OrgRole, UserStore } from '../user-store.ts';
import type { SessionRow, SessionStore } from './store.ts';

export type AuthMethod =
  | 'passkey'
  | 'totp'
  | 'recovery-code'
  | 'sms'
  | 'password'
  | 'ldap'
  | 'oidc'
  | 'setup-link';

/** Lifetimes; the directory issue moves these into per-org and per-project policy. */
export interface SessionPolicy {
  idleMinutes: number;
  absoluteHours: number;
}

export const defaultSessionPolicy: SessionPolicy = { idleMinutes: 30, absoluteHours: 12 };

/** Who is calling, as every authorised route sees it. */
export interface Actor {
  userId: string;
  sessionId: string;
  /** cookie: the web client; bearer: an API token (CLI, integrations). Provenance names the channel by it. */
  sessionKind: 'cookie' | 'bearer';
  /** Installation admin: creates orgs, reads the whole ledger; sees no org's projects by it. */
  isAdmin: boolean;
  /** Home org (tenant) and role in it. */
  orgId: string | null;
  orgRole: OrgRole;
  methods: AuthMethod[];
  stepUpAt: Date | null;
  /** AAGUID of the passkey the session signed in with, if any (policy: allowed authenticators). */
  passkeyAaguid: string | null;
  createdAt: Date;
  lastSeenAt: Date;
}

export interface SessionInfo {
  id: string;
  kind: 'cookie' | 'bearer';
  methods: AuthMethod[];
  device: string | null;
  createdAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  current: boolean;
}

/** Step-up proofs count for this long (issue: "within the last 5 minutes"). */
export const STEP_UP_WINDOW_MS = 5 * 60_000;
/** Sliding the idle expiry costs a write; do it at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Sessions: 256-bit random tokens handed to the client once and stored only
 * as keyed hashes, with idle and absolute lifetimes, listable and revocable.
 */
export class SessionService {
  readonly #store: SessionStore;
  readonly #users: UserStore;
  readonly #hasher: SecretHasher;
  readonly #clock: Clock;
  readonly #policy: SessionPolicy;
  readonly #gate: LoginGate | null;

  constructor(opts: {
    store: SessionStore;
    users: UserStore;
    hasher: SecretHasher;
    clock: Clock;
    policy?: SessionPolicy;
    /** The org policy's say over a new sign-in; absent only in storage-level unit tests. */
    gate?: LoginGate;
  }) {
    this.#store = opts.store;
    this.#users = opts.users;
    this.#hasher = opts.hasher;
    this.#clock = opts.clock;
    this.#policy = opts.policy ?? defaultSessionPolicy;
    this.#gate = opts.gate ?? null;
  }

  async create(
    userId: string,
    opts: {
      kind: 'cookie' | 'bearer';
      methods: AuthMethod[];
      device?: string | null;
      stepUp?: boolean;
      /** The AAGUID of the passkey that signed in, when one did. */
      passkeyAaguid?: string | null;
    },
  ): Promise<{ token: string; session: SessionInfo }> {
    const now = this.#clock.now();
    await this.#gate?.(
      userId,
      { methods: opts.methods, passkeyAaguid: opts.passkeyAaguid ?? null },
      now,
    );
    const token = newToken('bws');
    const id = randomUUID();
    const row: SessionRow = {
      id,
      token_hash: this.#hasher.hash('session', token),
      user_id: userId,
      kind: opts.kind,
      auth_methods: JSON.stringify(opts.methods),
      device_enc: opts.device
        ? this.#store.fields.encrypt(
            { table: 'sessions', column: 'device', rowId: id },
            opts.device.slice(0, 300),
          )
        : null,
      source_index: null,
      created_at: now.toISOString(),
      last_seen_at: now.toISOString(),
      idle_expires_at: this.#idleExpiry(now),
      absolute_expires_at: new Date(
        now.getTime() + this.#policy.absoluteHours * 3600_000,
      ).toISOString(),
      // A login made with a phishing-resistant or second factor counts as a fresh step-up.
      step_up_at: opts.stepUp ? now.toISOString() : null,
      revoked_at: null,
      revoked_reason: null,
      passkey_aaguid: opts.passkeyAaguid ?? null,
    };
    await this.#store.insert(row);
    return { token, session: this.#info(row, id) };
  }

  /**
   * The actor behind a token, or null (unknown, revoked, expired, or the account is disabled).
   * `touch: false` checks without sliding the idle expiry: an open live-updates socket
   * re-checks its session, and must not keep an unattended session alive.
   */
  async authenticate(token: string, opts: { touch?: boolean } = {}): Promise<Actor | null> {
    if (!/^bws_[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const row = await this.#store.byTokenHash(this.#hasher.hash('session', token));
    if (!row || row.revoked_at !== null) return null;
    const now = this.#clock.now();
    const nowIso = now.toISOString();
    if (row.idle_expires_at <= nowIso || row.absolute_expires_at <= nowIso) return null;
    const user = await this.#users.get(row.user_id);
    if (user?.status !== 'active') return null;
    if (opts.touch !== false && now.getTime() - Date.parse(row.last_seen_at) >= TOUCH_EVERY_MS) {
      await this.#store.touch(row.id, nowIso, this.#idleExpiry(now));
    }
    return {
      userId: row.user_id,
      sessionId: row.id,
      sessionKind: row.kind,
      isAdmin: user.isAdmin,
      orgId: user.orgId,
      orgRole: user.orgRole,
      methods: JSON.parse(row.auth_methods) as AuthMethod[],
      stepUpAt: row.step_up_at ? new Date(row.step_up_at) : null,
      passkeyAaguid: row.passkey_aaguid ?? null,
      createdAt: new Date(row.created_at),
      lastSeenAt: new Date(row.last_seen_at),
    };
  }

  /** Throws step_up_required unless the session proved a strong factor within the window. */
  requireRecentStepUp(actor: Actor): void {
    const at = actor.stepUpAt?.getTime() ?? 0;
    if (this.#clock.now().getTime() - at > STEP_UP_WINDOW_MS)
      throw new BulwarkError('step_up_required');
  }

  async markSteppedUp(sessionId: string): Promise<void> {
    await this.#store.markSteppedUp(sessionId, this.#clock.now().toISOString());
  }

  async list(userId: string, currentSessionId: string | null): Promise<SessionInfo[]> {
    const rows = await this.#store.activeForUser(userId, this.#clock.now().toISOString());
    return rows.map((r) => this.#info(r, currentSessionId));
  }

  /** Revokes one of the user's own sessions; not_found for anyone else's (no probing). */
  async revokeOwn(userId: string, sessionId: string): Promise<void> {
    const n = await this.#store.revoke(
      { id: sessionId, userId },
      this.#clock.now().toISOString(),
      'user',
    );
    if (n === 0) throw new BulwarkError('not_found', 'No such active session.');
  }

  /** Ends one session whatever its owner (policy lifetimes, the guard). */
  async revokeSession(actor: Actor, reason: string): Promise<void> {
    await this.#store.revoke(
      { id: actor.sessionId, userId: actor.userId },
      this.#clock.now().toISOString(),
      reason,
    );
  }

  /** Ends every session of a user (admin action, account disabled, password reset). */
  async revokeAllForUser(
    userId: string,
    reason: string,
    exceptSessionId?: string,
  ): Promise<number> {
    return this.#store.revoke(
      { userId, ...(exceptSessionId ? { exceptId: exceptSessionId } : {}) },
      this.#clock.now().toISOString(),
      reason,
    );
  }

  #idleExpiry(now: Date): string {
    return new Date(now.getTime() + this.#policy.idleMinutes * 60_000).toISOString();
  }

  #info(row: SessionRow, currentSessionId: string | null): SessionInfo {
    return {
      id: row.id,
      kind: row.kind,
      methods: JSON.parse(row.auth_methods) as AuthMethod[],
      device: this.#store.fields.decryptNullable(
        { table: 'sessions', column: 'device', rowId: row.id },
        row.device_enc,
      ),
      createdAt: row.created_at,
      lastSeenAt: row.last_seen_at,
      idleExpiresAt: row.idle_expires_at,
      absoluteExpiresAt: row.absolute_expires_at,
      current: row.id === currentSessionId,
    };
  }
}
