import { createHash } from 'node:crypto';
import type {
  AuthenticationResponse,
  PasskeySummary,
  RegistrationResponse,
  UserSummary,
} from '@bulwark/protocol';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { BulwarkError } from '../../errors.ts';
import { Storage } from '../../storage/storage.ts';
import type { ChallengeStore } from '../challenges/challenge-store.ts';
import type { RelyingParty } from '../context.ts';
import type { Clock } from '../secret-hasher.ts';
import type { Actor, SessionService } from '../sessions/service.ts';
import { type User, UserStore } from '../user-store.ts';
import { checkPasskeyPolicy, type PasskeyPolicy, permissivePasskeyPolicy } from './policy.ts';
import { type NewPasskey, type Passkey, PasskeyStore } from './store.ts';

/** How long a browser has to complete a ceremony. */
const CEREMONY_TIMEOUT_MS = 5 * 60_000;
/** The server keeps the challenge a little longer than the browser waits. */
const CHALLENGE_TTL_MS = CEREMONY_TIMEOUT_MS + 60_000;

/** The logger a route passes in, so warnings land in the request's log. */
export interface WarnLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
}

const silent: WarnLogger = { warn() {}, info() {} };

type RegistrationChallenge =
  | {
      purpose: 'setup';
      challenge: string;
      /** SHA-256 of the setup-link token: the ceremony is bound to the link it started from. */
      linkHash: string;
      userHandle: string;
      displayName: string;
      username: string;
    }
  | { purpose: 'add'; challenge: string; userId: string }
  | { purpose: 'enrol'; challenge: string; userId: string; linkHash: string };

type AuthenticationChallenge =
  | { purpose: 'login'; challenge: string }
  | { purpose: 'step-up'; challenge: string; userId: string };

export interface Options<T> {
  challengeId: string;
  options: T;
}

export interface NewSession {
  user: UserSummary;
  token: string;
  /** Seconds until the session's absolute expiry (the cookie's Max-Age). */
  maxAgeSeconds: number;
}

/**
 * Passkeys (WebAuthn via @simplewebauthn/server): the first admin's setup,
 * discoverable passwordless login, step-up, and managing one's own keys.
 * User verification is always required; attestation is kept (encrypted);
 * the policy decides which authenticators may register.
 */
export class PasskeyService {
  readonly #storage: Storage;
  readonly #store: PasskeyStore;
  readonly #users: UserStore;
  readonly #challenges: ChallengeStore;
  readonly #sessions: SessionService;
  readonly #rp: RelyingParty;
  readonly #clock: Clock;
  readonly #policy: PasskeyPolicy;

  constructor(opts: {
    storage: Storage;
    users: UserStore;
    challenges: ChallengeStore;
    sessions: SessionService;
    relyingParty: RelyingParty;
    clock: Clock;
    policy?: PasskeyPolicy;
  }) {
    this.#storage = opts.storage;
    this.#store = new PasskeyStore(opts.storage);
    this.#users = opts.users;
    this.#challenges = opts.challenges;
    this.#sessions = opts.sessions;
    this.#rp = opts.relyingParty;
    this.#clock = opts.clock;
    this.#policy = opts.policy ?? permissivePasskeyPolicy;
  }

  adminExists(): Promise<boolean> {
    return this.#store.adminExists();
  }

  // --- first admin ---------------------------------------------------------

  async startSetup(input: {
    token: string;
    displayName: string;
    username: string;
  }): Promise<Options<PublicKeyCredentialCreationOptionsJSON>> {
    await this.#requireLiveSetupLink(input.token);
    const userHandle = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(32)));
    const options = await this.#creationOptions({
      userHandle,
      userName: input.username,
      displayName: input.displayName,
      exclude: [],
    });
    const data: RegistrationChallenge = {
      purpose: 'setup',
      challenge: options.challenge,
      linkHash: sha256(input.token),
      userHandle,
      displayName: input.displayName,
      username: input.username,
    };
    const issued = await this.#challenges.issue('webauthn-registration', {
      data,
      ttlMs: CHALLENGE_TTL_MS,
    });
    return { challengeId: issued.id, options };
  }

  /**
   * Creates the first admin with their passkey and logs them in. The link is
   * consumed only after the ceremony verified, so a cancelled or failed
   * attempt can be retried with the same link; once consumed it is dead.
   */
  async finishSetup(input: {
    token: string;
    challengeId: string;
    response: RegistrationResponse;
    name?: string | undefined;
    device?: string | null;
  }): Promise<NewSession> {
    const challenge = await this.#challenges.consume<RegistrationChallenge>(
      'webauthn-registration',
      input.challengeId,
    );
    if (challenge?.data.purpose !== 'setup') {
      throw new BulwarkError(
        'webauthn_failed',
        'This registration expired or was already used; start again.',
      );
    }
    const data = challenge.data;
    if (data.linkHash !== sha256(input.token)) {
      throw new BulwarkError('link_invalid');
    }
    await this.#requireLiveSetupLink(input.token);
    const credential = await this.#verifyRegistration(data.challenge, input.response);

    const link = await this.#challenges.consume('setup-link', input.token);
    if (!link) throw new BulwarkError('link_invalid');
    const now = this.#clock.now().toISOString();
    const user = await this.#storage.transaction(async (trx) => {
      const tx = new Storage(trx, this.#storage.backend, this.#storage.fields);
      // Re-checked inside the transaction: two links raced to the finish.
      const store = new PasskeyStore(tx);
      if (await store.adminExists()) {
        throw new BulwarkError('link_invalid', 'An administrator exists already.');
      }
      const created = await new UserStore(tx).create(
        { displayName: data.displayName, username: data.username, isAdmin: true, orgRole: 'owner' },
        this.#clock.now(),
      );
      await store.setUserHandle(created.id, data.userHandle);
      await store.insert({
        ...credential,
        userId: created.id,
        name: input.name ?? 'First passkey',
        createdAt: now,
      });
      return created;
    });
    return this.#newSession(user, 'cookie', input.device ?? null, credential.aaguid);
  }

  async #requireLiveSetupLink(token: string): Promise<void> {
    const link = await this.#challenges.peek('setup-link', token);
    if (!link) throw new BulwarkError('link_invalid');
    if (await this.#store.adminExists()) {
      throw new BulwarkError('link_invalid', 'An administrator exists already; log in instead.');
    }
  }

  // --- enrolment of an invited user ------------------------------------------

  /** Creation options for the user an admin's enrolment link names. */
  async startEnrolment(token: string): Promise<Options<PublicKeyCredentialCreationOptionsJSON>> {
    const user = await this.#enrolmentUser(token);
    return this.#startRegistrationFor(user, (challenge) => ({
      purpose: 'enrol',
      challenge,
      userId: user.id,
      linkHash: sha256(token),
    }));
  }

  /** Registers the invited user's passkey and logs them in; the link dies only on success. */
  async finishEnrolment(input: {
    token: string;
    challengeId: string;
    response: RegistrationResponse;
    name?: string | undefined;
    device?: string | null;
  }): Promise<NewSession> {
    const challenge = await this.#challenges.consume<RegistrationChallenge>(
      'webauthn-registration',
      input.challengeId,
    );
    if (challenge?.data.purpose !== 'enrol' || challenge.data.linkHash !== sha256(input.token)) {
      throw new BulwarkError(
        'webauthn_failed',
        'This registration expired or was already used; start again.',
      );
    }
    const user = await this.#enrolmentUser(input.token);
    if (user.id !== challenge.data.userId) throw new BulwarkError('link_invalid');
    const credential = await this.#verifyRegistration(challenge.data.challenge, input.response);
    if (!(await this.#challenges.consume('enrolment-link', input.token))) {
      throw new BulwarkError('link_invalid');
    }
    const count = await this.#store.countForUser(user.id);
    await this.#store.insert({
      ...credential,
      userId: user.id,
      name: input.name ?? `Passkey ${count + 1}`,
      createdAt: this.#clock.now().toISOString(),
    });
    return this.#newSession(user, 'cookie', input.device ?? null, credential.aaguid);
  }

  async #enrolmentUser(token: string): Promise<User> {
    const link = await this.#challenges.peek('enrolment-link', token);
    if (!link?.userId) throw new BulwarkError('link_invalid');
    const user = await this.#users.get(link.userId);
    if (user?.status !== 'active') throw new BulwarkError('link_invalid');
    return user;
  }

  // --- login and step-up ----------------------------------------------------

  async startLogin(): Promise<Options<PublicKeyCredentialRequestOptionsJSON>> {
    // Discoverable: no allowCredentials, the authenticator offers its passkeys
    // for this RP, so the server reveals nothing about which accounts exist.
    const options = await generateAuthenticationOptions({
      rpID: this.#rp.id,
      userVerification: 'required',
      timeout: CEREMONY_TIMEOUT_MS,
    });
    const data: AuthenticationChallenge = { purpose: 'login', challenge: options.challenge };
    const issued = await this.#challenges.issue('webauthn-authentication', {
      data,
      ttlMs: CHALLENGE_TTL_MS,
    });
    return { challengeId: issued.id, options };
  }

  /**
   * Every failure is the same `login_failed` (unknown credential, wrong
   * signature, replay, disabled account) and changes nothing; the reason is
   * only logged.
   */
  async finishLogin(input: {
    challengeId: string;
    response: AuthenticationResponse;
    session: 'cookie' | 'bearer';
    device?: string | null;
    log?: WarnLogger;
  }): Promise<NewSession> {
    const log = input.log ?? silent;
    const challenge = await this.#challenges.consume<AuthenticationChallenge>(
      'webauthn-authentication',
      input.challengeId,
    );
    if (challenge?.data.purpose !== 'login') {
      log.info({}, 'passkey login refused: unknown, used or expired challenge');
      throw new BulwarkError(
        'login_failed',
        'Login failed: this login attempt expired or was already used. Start again.',
      );
    }
    const outcome = await this.#verifyAssertion(
      challenge.data.challenge,
      input.response,
      log,
      true,
    );
    if (!outcome.ok) {
      log.info({ reason: outcome.reason }, 'passkey login refused');
      throw new BulwarkError('login_failed');
    }
    return this.#newSession(
      outcome.user,
      input.session,
      input.device ?? null,
      outcome.passkey.aaguid,
    );
  }

  async startStepUp(actor: Actor): Promise<Options<PublicKeyCredentialRequestOptionsJSON>> {
    const passkeys = await this.#store.listForUser(actor.userId);
    const options = await generateAuthenticationOptions({
      rpID: this.#rp.id,
      userVerification: 'required',
      timeout: CEREMONY_TIMEOUT_MS,
      allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports })),
    });
    const data: AuthenticationChallenge = {
      purpose: 'step-up',
      challenge: options.challenge,
      userId: actor.userId,
    };
    const issued = await this.#challenges.issue('webauthn-authentication', {
      userId: actor.userId,
      data,
      ttlMs: CHALLENGE_TTL_MS,
    });
    return { challengeId: issued.id, options };
  }

  /** A fresh passkey proof for this session (sensitive actions need one within 5 minutes). */
  async finishStepUp(
    actor: Actor,
    input: { challengeId: string; response: AuthenticationResponse; log?: WarnLogger },
  ): Promise<{ stepUpAt: string }> {
    const log = input.log ?? silent;
    const challenge = await this.#challenges.consume<AuthenticationChallenge>(
      'webauthn-authentication',
      input.challengeId,
    );
    if (challenge?.data.purpose !== 'step-up' || challenge.data.userId !== actor.userId) {
      throw new BulwarkError(
        'webauthn_failed',
        'This confirmation expired or was already used; start again.',
      );
    }
    const outcome = await this.#verifyAssertion(
      challenge.data.challenge,
      input.response,
      log,
      false,
    );
    if (!outcome.ok || outcome.user.id !== actor.userId) {
      log.info({ reason: outcome.ok ? 'another user' : outcome.reason }, 'passkey step-up refused');
      throw new BulwarkError('webauthn_failed');
    }
    await this.#sessions.markSteppedUp(actor.sessionId);
    return { stepUpAt: this.#clock.now().toISOString() };
  }

  async #verifyAssertion(
    expectedChallenge: string,
    response: AuthenticationResponse,
    log: WarnLogger,
    /** Discoverable login names the account only through the user handle, so it must be there. */
    requireUserHandle: boolean,
  ): Promise<{ ok: true; user: User; passkey: Passkey } | { ok: false; reason: string }> {
    if (response.id !== response.rawId) return { ok: false, reason: 'id and rawId differ' };
    const passkey = await this.#store.get(response.id);
    if (!passkey) return { ok: false, reason: 'unknown credential' };
    const user = await this.#users.get(passkey.userId);
    if (!user) return { ok: false, reason: 'credential without a user' };
    // The authenticator returns the user handle it stored at registration; a
    // credential answering for another account's handle is not this one's.
    const handle = response.response.userHandle;
    if (requireUserHandle && !handle) return { ok: false, reason: 'no user handle' };
    if (handle && !sameBytes(handle, user.webauthnUserHandle)) {
      return { ok: false, reason: 'user handle does not match the credential owner' };
    }
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge,
        expectedOrigin: this.#rp.origins,
        expectedRPID: this.#rp.id,
        requireUserVerification: true,
        credential: {
          id: passkey.id,
          publicKey: isoBase64URL.toBuffer(passkey.publicKey),
          counter: passkey.counter,
          transports: passkey.transports,
        },
      });
    } catch (err) {
      const message = (err as Error).message;
      if (/counter/i.test(message)) {
        // W3C WebAuthn §6.1.1: a signature counter that does not move forward
        // means two copies of the private key may exist.
        log.warn(
          { credentialId: passkey.id, userId: user.id, storedCounter: passkey.counter },
          'passkey signature counter did not increase: possibly a cloned authenticator; refused',
        );
        return { ok: false, reason: 'counter did not increase' };
      }
      return { ok: false, reason: message };
    }
    const info = verified.authenticationInfo;
    if (!verified.verified || !info.userVerified) return { ok: false, reason: 'not verified' };
    if (user.status !== 'active') return { ok: false, reason: 'account disabled' };
    const moved = await this.#store.recordUse(
      passkey.id,
      passkey.counter,
      info.newCounter,
      this.#clock.now().toISOString(),
    );
    if (!moved) return { ok: false, reason: 'counter changed concurrently' };
    return { ok: true, user, passkey };
  }

  // --- one's own passkeys ----------------------------------------------------

  async startRegistration(actor: Actor): Promise<Options<PublicKeyCredentialCreationOptionsJSON>> {
    const user = await this.#activeUser(actor.userId);
    return this.#startRegistrationFor(user, (challenge) => ({
      purpose: 'add',
      challenge,
      userId: user.id,
    }));
  }

  /** Creation options for an existing user (their handle, their passkeys excluded) and the challenge kept for finishing. */
  async #startRegistrationFor(
    user: User,
    challengeData: (challenge: string) => RegistrationChallenge,
  ): Promise<Options<PublicKeyCredentialCreationOptionsJSON>> {
    const existing = await this.#store.listForUser(user.id);
    const options = await this.#creationOptions({
      userHandle: user.webauthnUserHandle,
      userName: user.username ?? user.email ?? user.displayName,
      displayName: user.displayName,
      exclude: existing,
    });
    const issued = await this.#challenges.issue('webauthn-registration', {
      userId: user.id,
      data: challengeData(options.challenge),
      ttlMs: CHALLENGE_TTL_MS,
    });
    return { challengeId: issued.id, options };
  }

  async finishRegistration(
    actor: Actor,
    input: { challengeId: string; response: RegistrationResponse; name?: string | undefined },
  ): Promise<PasskeySummary> {
    const challenge = await this.#challenges.consume<RegistrationChallenge>(
      'webauthn-registration',
      input.challengeId,
    );
    if (challenge?.data.purpose !== 'add' || challenge.data.userId !== actor.userId) {
      throw new BulwarkError(
        'webauthn_failed',
        'This registration expired or was already used; start again.',
      );
    }
    const user = await this.#activeUser(actor.userId);
    const credential = await this.#verifyRegistration(challenge.data.challenge, input.response);
    const count = await this.#store.countForUser(user.id);
    await this.#store.insert({
      ...credential,
      userId: user.id,
      name: input.name ?? `Passkey ${count + 1}`,
      createdAt: this.#clock.now().toISOString(),
    });
    const stored = await this.#store.get(credential.id);
    if (!stored) throw new Error('passkey vanished after insert');
    return summary(stored);
  }

  async list(userId: string): Promise<PasskeySummary[]> {
    return (await this.#store.listForUser(userId)).map(summary);
  }

  async rename(userId: string, id: string, name: string): Promise<PasskeySummary> {
    if (!(await this.#store.rename(userId, id, name))) throw notFound();
    const stored = await this.#store.get(id);
    if (!stored) throw notFound();
    return summary(stored);
  }

  /** Removes one of the user's passkeys; never the last (they could not log in again). */
  async remove(userId: string, id: string): Promise<void> {
    const mine = await this.#store.listForUser(userId);
    if (!mine.some((p) => p.id === id)) throw notFound();
    if (mine.length <= 1) throw new BulwarkError('last_factor');
    if (!(await this.#store.delete(userId, id))) throw notFound();
  }

  async userSummary(userId: string): Promise<UserSummary> {
    return userSummary(await this.#activeUser(userId));
  }

  // --- shared -----------------------------------------------------------------

  async #creationOptions(opts: {
    userHandle: string;
    userName: string;
    displayName: string;
    exclude: Passkey[];
  }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return generateRegistrationOptions({
      rpName: this.#rp.name,
      rpID: this.#rp.id,
      userID: isoBase64URL.toBuffer(opts.userHandle),
      userName: opts.userName,
      userDisplayName: opts.displayName,
      timeout: CEREMONY_TIMEOUT_MS,
      // Attestation is kept for audit and for AAGUID allow-lists.
      attestationType: 'direct',
      excludeCredentials: opts.exclude.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
  }

  async #verifyRegistration(
    expectedChallenge: string,
    response: RegistrationResponse,
  ): Promise<Omit<NewPasskey, 'userId' | 'name' | 'createdAt'>> {
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge,
        expectedOrigin: this.#rp.origins,
        expectedRPID: this.#rp.id,
        requireUserVerification: true,
      });
    } catch (err) {
      throw new BulwarkError(
        'webauthn_failed',
        `The passkey response was not accepted: ${(err as Error).message}`,
      );
    }
    if (!verified.verified) throw new BulwarkError('webauthn_failed');
    const info = verified.registrationInfo;
    if (!info.userVerified) {
      throw new BulwarkError(
        'webauthn_failed',
        'The authenticator did not verify the user (PIN or biometric).',
      );
    }
    const decision = checkPasskeyPolicy(this.#policy, {
      aaguid: info.aaguid,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    });
    if (!decision.allowed) {
      throw new BulwarkError(
        'method_not_allowed_by_policy',
        `This passkey cannot be registered: ${decision.reason}.`,
      );
    }
    if (await this.#store.get(info.credential.id)) {
      throw new BulwarkError('webauthn_failed', 'This passkey is registered already.');
    }
    return {
      id: info.credential.id,
      publicKey: isoBase64URL.fromBuffer(info.credential.publicKey),
      counter: info.credential.counter,
      transports: info.credential.transports ?? response.response.transports ?? [],
      aaguid: info.aaguid,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      attestationFmt: info.fmt,
      attestationObject: isoBase64URL.fromBuffer(info.attestationObject),
    };
  }

  async #activeUser(userId: string): Promise<User> {
    const user = await this.#users.get(userId);
    if (user?.status !== 'active') throw new BulwarkError('unauthenticated');
    return user;
  }

  async #newSession(
    user: User,
    kind: 'cookie' | 'bearer',
    device: string | null,
    /** Which authenticator model signed in: policies may allow only some (hardware keys). */
    passkeyAaguid: string,
  ): Promise<NewSession> {
    const { token, session } = await this.#sessions.create(user.id, {
      kind,
      methods: ['passkey'],
      device,
      passkeyAaguid,
      // A passkey with user verification is phishing-resistant and two-factor: a fresh step-up.
      stepUp: true,
    });
    const maxAgeSeconds = Math.max(
      0,
      Math.floor((Date.parse(session.absoluteExpiresAt) - this.#clock.now().getTime()) / 1000),
    );
    return { user: userSummary(user), token, maxAgeSeconds };
  }
}

function summary(p: Passkey): PasskeySummary {
  return {
    id: p.id,
    name: p.name,
    createdAt: p.createdAt,
    lastUsedAt: p.lastUsedAt,
    aaguid: p.aaguid,
    backedUp: p.backedUp,
    deviceType: p.deviceType,
  };
}

export function userSummary(u: User): UserSummary {
  return {
    id: u.id,
    displayName: u.displayName,
    username: u.username,
    email: u.email,
    isAdmin: u.isAdmin,
  };
}

const notFound = () => new BulwarkError('not_found', 'No such passkey.');

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function sameBytes(a: string, b: string): boolean {
  return Buffer.from(a, 'base64url').equals(Buffer.from(b, 'base64url'));
}
