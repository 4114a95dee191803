import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import type { Storage } from '../../storage/storage.ts';
import type { ChallengeStore } from '../challenges/challenge-store.ts';
import { connectorOrg } from '../connector-org.ts';
import type { Clock } from '../secret-hasher.ts';
import type { User, UserStore } from '../user-store.ts';
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

export interface OidcServiceOptions {
  connectors: OidcConnectorConfig[];
  storage: Storage;
  users: UserStore;
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
 */
export class OidcService {
  readonly #connectors = new Map<string, OidcConnector>();
  readonly #users: UserStore;
  readonly #storage: Storage;
  readonly #challenges: ChallengeStore;
  readonly #identities: OidcIdentityStore;
  readonly #clock: Clock;
  readonly #publicOrigin: () => string;

  constructor(opts: OidcServiceOptions) {
    this.#users = opts.users;
    this.#storage = opts.storage;
    this.#challenges = opts.challenges;
    this.#identities = new OidcIdentityStore(opts.storage);
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
   * refusal; nothing but the spent challenge has changed by then.
   */
  async completeLogin(
    connectorId: string,
    callbackUrl: URL,
    browserBinding: string | null,
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
    return this.#upsertUser(connector, mapped);
  }

  async #upsertUser(connector: OidcConnector, mapped: MappedIdentity): Promise<User> {
    const { id: connectorId, issuer } = connector.config;
    const subjectIndex = this.#identities.subjectIndex(issuer, mapped.subject);
    const now = this.#clock.now();
    const linkedId = await this.#identities.findUserId(connectorId, subjectIndex);
    if (mapped.email !== null) {
      // Never link or merge by email: an existing account with this email stays its owner's.
      const owner = await this.#users.findByEmail(mapped.email);
      if (owner && owner.id !== linkedId) {
        throw new OidcLoginError(
          'email_taken',
          'Another account already uses this email address; ask an administrator to link it.',
        );
      }
    }
    if (linkedId !== null) {
      const user = await this.#users.get(linkedId);
      if (user?.status !== 'active') {
        throw new OidcLoginError('account_disabled', 'This account is disabled.');
      }
      await this.#identities.updateProfile(
        user.id,
        {
          displayName: mapped.displayName,
          email: mapped.email,
          ...(mapped.isAdmin === undefined
            ? {}
            : {
                // Installation admins only through a connector of the default org.
                isAdmin: mapped.isAdmin && !connector.config.org,
                orgAdmin: mapped.isAdmin,
              }),
        },
        now,
      );
      return this.#reload(user.id);
    }
    const username =
      mapped.username !== null && !(await this.#users.findByUsername(mapped.username))
        ? mapped.username
        : null;
    const orgId = await connectorOrg(this.#storage, connectorId, connector.config.org);
    const created = await this.#users.create(
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
    if (!(await this.#identities.link(created.id, connectorId, subjectIndex, now))) {
      // A parallel first login of the same person linked first; use that account.
      await this.#identities.deleteUser(created.id);
      const winner = await this.#identities.findUserId(connectorId, subjectIndex);
      if (winner === null) throw new Error('OIDC identity vanished after a link conflict');
      return this.#reload(winner);
    }
    return created;
  }

  async #reload(userId: string): Promise<User> {
    const user = await this.#users.get(userId);
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
