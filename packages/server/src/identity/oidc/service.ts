import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ControlledTransaction } from 'kysely';
import * as oidc from 'openid-client';
import type { AuditActor, AuditEvent } from '../../audit/ledger/entry.ts';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { withControlledTransaction } from '../../storage/controlled-transaction.ts';
import type { Tables } from '../../storage/schema.ts';
import type { Storage } from '../../storage/storage.ts';
import type { ChallengeStore } from '../challenges/challenge-store.ts';
import { connectorOrg } from '../connector-org.ts';
import type { Clock } from '../secret-hasher.ts';
import { type User, UserStore } from '../user-store.ts';
import type { OidcConnectorConfig } from './config.ts';
import { OidcConnector, OidcLoginError, type ProviderClaims } from './connector.ts';
import { OidcIdentityStore } from './store.ts';

/** The authorization request must come back within this time (brief: 10 minutes). */
export const OIDC_LOGIN_TTL_MS = 10 * 60_000;

/** What the server keeps between /start and /callback (encrypted in the challenge row). */
interface PendingOidcLogin {
  connectorId: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  /** SHA-256 of the browser-binding cookie value: the callback must come from the same browser. */
  bindingHash: string;
}

export interface BeganLogin {
  authorizationUrl: string;
  /** The `state` sent to the provider; it is also the one-time challenge id. */
  stateId: string;
  /** Set as a short-lived cookie; the callback must present it (login CSRF). */
  browserBinding: string;
  expiresAt: Date;
}

export interface MappedIdentity {
  subject: string;
  username: string | null;
  displayName: string;
  email: string | null;
  groups: string[];
  /** undefined when no group mapping is configured: the admin flag is then left alone. */
  isAdmin?: boolean;
}

/** Where a login's account changes are recorded, and from which address the login came. */
export interface OidcAudit {
  ledger: AuditLedger;
  source?: string | null;
}

/** One database transaction and its ledger: everything inside goes through it. */
interface OidcTx {
  trx: ControlledTransaction<Tables>;
  storage: Storage;
  users: UserStore;
  identities: OidcIdentityStore;
  record(event: AuditEvent): Promise<void>;
}

/** The first login's user and link: rolled back alone if a concurrent first login won. */
const FIRST_LOGIN = 'oidc_first_login';

export interface OidcServiceOptions {
  connectors: OidcConnectorConfig[];
  storage: Storage;
  /**
   * Not used: account changes run on the transaction's own stores (with
   * their ledger entry). Still accepted, as the composition root passes it.
   */
  users?: UserStore;
  challenges: ChallengeStore;
  clock: Clock;
  /** The origin browsers reach this server on, e.g. `https://bulwark.example.org`. */
  publicOrigin: () => string;
  /** Reads `clientSecretFile` and `caFile`; tests may swap it. */
  readFile?: (path: string) => string;
  /** Tests only: plain http to a loopback issuer. Never from configuration. */
  allowInsecureHttpForTests?: boolean;
}

/**
 * OIDC login (authorization code + PKCE S256, `state`, `nonce`): begins a
 * login by remembering its secrets in a one-time challenge keyed by the
 * state, completes it by consuming that challenge (a replayed callback finds
 * nothing), lets openid-client check the provider's answer, then applies
 * our own rules (verified email, allowed domains) before it touches a user.
 * A user created or updated by a login is recorded in the audit ledger in
 * the same transaction (`user.create`, `user.update`; the user is the
 * actor, channel `oidc`); the provider is only ever asked before it begins.
 */
export class OidcService {
  readonly #connectors = new Map<string, OidcConnector>();
  readonly #storage: Storage;
  readonly #challenges: ChallengeStore;
  readonly #clock: Clock;
  readonly #publicOrigin: () => string;

  constructor(opts: OidcServiceOptions) {
    this.#storage = opts.storage;
    this.#challenges = opts.challenges;
    this.#clock = opts.clock;
    this.#publicOrigin = opts.publicOrigin;
    const read = opts.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
    for (const config of opts.connectors) {
      this.#connectors.set(
        config.id,
        new OidcConnector({
          config,
          clientSecret: config.clientSecretFile ? read(config.clientSecretFile).trim() : null,
          ca: config.caFile ? read(config.caFile) : null,
          ...(opts.allowInsecureHttpForTests ? { allowInsecureHttpForTests: true } : {}),
        }),
      );
    }
  }

  has(connectorId: string): boolean {
    return this.#connectors.has(connectorId);
  }

  /** The public list for a login page. */
  list(): { id: string; issuer: string }[] {
    return [...this.#connectors.values()].map((c) => ({
      id: c.config.id,
      issuer: c.config.issuer,
    }));
  }

  redirectUri(connectorId: string): string {
    return new URL(this.#connector(connectorId).config.redirectPath, this.#publicOrigin()).href;
  }

  async beginLogin(connectorId: string): Promise<BeganLogin> {
    const connector = this.#connector(connectorId);
    // Discover first: no challenge is written for a provider we cannot reach.
    await connector.discover();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const browserBinding = randomBytes(32).toString('base64url');
    const redirectUri = this.redirectUri(connectorId);
    const pending: PendingOidcLogin = {
      connectorId,
      nonce,
      codeVerifier,
      redirectUri,
      bindingHash: sha256(browserBinding),
    };
    // The challenge id is 256 random bits, so it serves as the unguessable `state` itself.
    const challenge = await this.#challenges.issue('oidc-login', {
      data: pending,
      ttlMs: OIDC_LOGIN_TTL_MS,
    });
    const url = await connector.authorizationUrl({
      redirectUri,
      state: challenge.id,
      nonce,
      codeChallenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    });
    return {
      authorizationUrl: url.href,
      stateId: challenge.id,
      browserBinding,
      expiresAt: challenge.expiresAt,
    };
  }

  /**
   * Completes a login from the callback URL. Throws OidcLoginError on any
   * refusal; nothing but the spent challenge has changed by then. The
   * account's changes commit with their ledger entries, or not at all.
   */
  async completeLogin(
    connectorId: string,
    callbackUrl: URL,
    browserBinding: string | null,
    audit: OidcAudit,
  ): Promise<User> {
    const connector = this.#connector(connectorId);
    const state = callbackUrl.searchParams.get('state') ?? '';
    // Consumed before anything else: the same state (and so the same code) is accepted once.
    const pending = await this.#challenges.consume<PendingOidcLogin>('oidc-login', state);
    if (!pending || pending.data.connectorId !== connectorId) {
      throw new OidcLoginError(
        'state_invalid',
        'This login link is not valid any more (used, expired or unknown); start again.',
      );
    }
    if (browserBinding === null || !sameHash(sha256(browserBinding), pending.data.bindingHash)) {
      // Login CSRF: someone else's callback URL must not log this browser into their account.
      throw new OidcLoginError(
        'browser_mismatch',
        'This login was started in another browser; start again here.',
      );
    }
    // The URL openid-client checks is rebuilt on our redirect URI, never from the Host header.
    const current = new URL(pending.data.redirectUri);
    current.search = callbackUrl.search;
    const { claims } = await connector.exchange(current, {
      state,
      nonce: pending.data.nonce,
      codeVerifier: pending.data.codeVerifier,
    });
    const mapped = mapClaims(connector.config, claims);
    const source = audit.source ?? null;
    return this.#change(audit.ledger, (tx) =>
      this.#upsertUser(tx, connector, mapped, (userId) => ({
        kind: 'user',
        userId,
        source,
        channel: 'oidc',
      })),
    );
  }

  /**
   * Runs `fn` and its ledger entries in one transaction: both commit or
   * neither does. A controlled transaction, so a first login can roll back
   * to a savepoint (a failed INSERT would otherwise abort a PostgreSQL
   * transaction). Everything inside must use `tx` (SQLite has one connection).
   */
  async #change<T>(ledger: AuditLedger, fn: (tx: OidcTx) => Promise<T>): Promise<T> {
    return withControlledTransaction(this.#storage, (trx, storage) =>
      fn({
        trx,
        storage,
        users: new UserStore(storage),
        identities: new OidcIdentityStore(storage),
        record: async (event) => {
          await ledger.append(trx, event);
        },
      }),
    );
  }

  async #upsertUser(
    tx: OidcTx,
    connector: OidcConnector,
    mapped: MappedIdentity,
    actorFor: (userId: string) => AuditActor,
  ): Promise<User> {
    const { id: connectorId, issuer } = connector.config;
    const subjectIndex = tx.identities.subjectIndex(issuer, mapped.subject);
    const now = this.#clock.now();
    const linkedId = await tx.identities.findUserId(connectorId, subjectIndex, { lock: true });
    if (mapped.email !== null) {
      // Never link or merge by email: an existing account with this email stays its owner's.
      const owner = await tx.users.findByEmail(mapped.email);
      if (owner && owner.id !== linkedId) {
        throw new OidcLoginError(
          'email_taken',
          'Another account already uses this email address; ask an administrator to link it.',
        );
      }
    }
    if (linkedId !== null) {
      const user = await tx.users.get(linkedId);
      if (user?.status !== 'active') {
        throw new OidcLoginError('account_disabled', 'This account is disabled.');
      }
      // Installation admins only through a connector of the default org.
      const isAdmin =
        mapped.isAdmin === undefined ? user.isAdmin : mapped.isAdmin && !connector.config.org;
      // The IdP's admin role makes an org admin; it never touches an org owner.
      const orgRole =
        mapped.isAdmin === undefined || user.orgRole === 'owner'
          ? user.orgRole
          : mapped.isAdmin
            ? 'admin'
            : 'member';
      const changed =
        user.displayName !== mapped.displayName ||
        user.email !== mapped.email ||
        user.isAdmin !== isAdmin ||
        user.orgRole !== orgRole;
      if (!changed) return user;
      await tx.identities.updateProfile(
        user.id,
        {
          displayName: mapped.displayName,
          email: mapped.email,
          ...(mapped.isAdmin === undefined ? {} : { isAdmin, orgAdmin: mapped.isAdmin }),
        },
        now,
      );
      const updated = await this.#reload(tx, user.id);
      await tx.record({
        action: 'user.update',
        actor: actorFor(user.id),
        target: { type: 'user', id: user.id },
        before: ledgerView(user, connectorId),
        after: ledgerView(updated, connectorId),
      });
      return updated;
    }
    const username =
      mapped.username !== null && !(await tx.users.findByUsername(mapped.username))
        ? mapped.username
        : null;
    const orgId = await connectorOrg(tx.storage, connectorId, connector.config.org);
    const savepoint = await tx.trx.savepoint(FIRST_LOGIN).execute();
    let created: User;
    try {
      created = await tx.users.create(
        {
          ...(orgId ? { orgId } : {}),
          displayName: mapped.displayName,
          email: mapped.email,
          username,
          isAdmin: mapped.isAdmin === true && !connector.config.org,
          orgRole: mapped.isAdmin === true ? 'admin' : 'member',
          source: 'oidc',
        },
        now,
      );
      await tx.identities.link(created.id, connectorId, subjectIndex, now);
      await savepoint.releaseSavepoint(FIRST_LOGIN).execute();
    } catch (err) {
      // A parallel first login of the same person linked first (its user or
      // link insert collided with ours): undo ours, keep the transaction, use theirs.
      await savepoint.rollbackToSavepoint(FIRST_LOGIN).execute();
      await savepoint.releaseSavepoint(FIRST_LOGIN).execute();
      const winner = await tx.identities.findUserId(connectorId, subjectIndex);
      if (winner === null) throw err;
      return this.#reload(tx, winner);
    }
    await tx.record({
      action: 'user.create',
      actor: actorFor(created.id),
      target: { type: 'user', id: created.id },
      after: ledgerView(created, connectorId),
    });
    return created;
  }

  async #reload(tx: OidcTx, userId: string): Promise<User> {
    const user = await tx.users.get(userId);
    if (!user) throw new Error(`user ${userId} vanished`);
    return user;
  }

  #connector(connectorId: string): OidcConnector {
    const connector = this.#connectors.get(connectorId);
    if (!connector) {
      throw new OidcLoginError('unknown_connector', 'No such identity provider is configured.');
    }
    return connector;
  }
}

/** What the ledger hashes as the account's before and after. */
function ledgerView(user: User, connectorId: string) {
  return {
    id: user.id,
    displayName: user.displayName,
    username: user.username,
    email: user.email,
    status: user.status,
    isAdmin: user.isAdmin,
    orgId: user.orgId,
    orgRole: user.orgRole,
    source: user.source,
    connector: connectorId,
  };
}

/** Provider claims → our fields, applying the connector's email rules. */
export function mapClaims(config: OidcConnectorConfig, claims: ProviderClaims): MappedIdentity {
  const text = (name: string, max: number): string | null => {
    const value = claims[name];
    if (typeof value !== 'string') return null;
    const trimmed = value.trim();
    return trimmed === '' || trimmed.length > max ? null : trimmed;
  };
  const email = text(config.claims.email, 320);
  if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new OidcLoginError('claims_invalid', 'The identity provider sent an invalid email.');
  }
  if (email !== null && config.requireVerifiedEmail && claims.email_verified !== true) {
    throw new OidcLoginError(
      'email_not_verified',
      'The identity provider has not verified this email address.',
    );
  }
  if (config.allowedEmailDomains.length > 0) {
    const domain = email?.slice(email.lastIndexOf('@') + 1).toLowerCase() ?? null;
    if (domain === null || !config.allowedEmailDomains.includes(domain)) {
      throw new OidcLoginError(
        'email_domain_not_allowed',
        'This email domain is not allowed to log in here.',
      );
    }
  }
  const rawGroups = claims[config.claims.groups];
  const groups = (Array.isArray(rawGroups) ? rawGroups : [rawGroups]).filter(
    (g): g is string => typeof g === 'string',
  );
  const roles = Object.entries(config.groupRoles);
  const username = text(config.claims.username, 256);
  return {
    subject: claims.sub,
    username,
    displayName: text(config.claims.displayName, 256) ?? username ?? email ?? claims.sub,
    email,
    groups,
    ...(roles.length === 0
      ? {}
      : { isAdmin: roles.some(([group, role]) => role === 'admin' && groups.includes(group)) }),
  };
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
