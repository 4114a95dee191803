import type { RootKey } from '../keys/root-key.ts';
import { policyLoginGate } from '../policy/login-gate.ts';
import type { Storage } from '../storage/storage.ts';
import { ChallengeStore } from './challenges/challenge-store.ts';
import type { PasskeyPolicy } from './passkeys/policy.ts';
import { PasskeyService } from './passkeys/service.ts';
import { PasswordService } from './passwords/service.ts';
import { RecoveryCodeService } from './recovery/service.ts';
import { type Clock, SecretHasher } from './secret-hasher.ts';
import { type SessionPolicy, SessionService } from './sessions/service.ts';
import { SessionStore } from './sessions/store.ts';
import type { SmsProvider } from './sms/provider.ts';
import { SmsCodeService } from './sms/service.ts';
import { TotpService } from './totp/service.ts';
import { UserStore } from './user-store.ts';

/** Where browsers reach this server: WebAuthn binds credentials to it. */
export interface RelyingParty {
  /** RP ID: the registrable domain, e.g. `localhost` or `bulwark.example.org`. */
  id: string;
  name: string;
  /** Accepted origins, e.g. `https://localhost:8443`. */
  origins: string[];
}

/**
 * The identity services of an unsealed server, built from its storage and
 * keys at unseal and dropped at seal. Wired by hand (CONVENTIONS §4).
 */
export interface IdentityContext {
  /** The open storage, for services that must write in one transaction with the ledger. */
  storage: Storage;
  clock: Clock;
  hasher: SecretHasher;
  users: UserStore;
  challenges: ChallengeStore;
  sessions: SessionService;
  relyingParty: RelyingParty;
  passkeys: PasskeyService;
  /** The registration policy, for services built per transaction. */
  passkeyPolicy: PasskeyPolicy;
  totp: TotpService;
  recovery: RecoveryCodeService;
  passwords: PasswordService;
  /** Null unless SMS codes are enabled in config (they are insecure; off by default). */
  sms: SmsCodeService | null;
  /** The SMS provider (null when SMS is off), for services built per transaction. */
  smsProvider: SmsProvider | null;
  wipe(): void;
}

export function buildIdentityContext(opts: {
  storage: Storage;
  root: RootKey;
  clock: Clock;
  relyingParty: RelyingParty;
  sessionPolicy?: SessionPolicy;
  passkeyPolicy?: PasskeyPolicy;
  smsProvider?: SmsProvider | null;
  totpIssuer?: string;
}): IdentityContext {
  const macKey = opts.root.derive('sessionMac');
  const hasher = new SecretHasher(macKey);
  macKey.wipe();
  const users = new UserStore(opts.storage);
  const challenges = new ChallengeStore({ storage: opts.storage, hasher, clock: opts.clock });
  const sessions = new SessionService({
    store: new SessionStore(opts.storage),
    users,
    hasher,
    clock: opts.clock,
    gate: policyLoginGate(opts.storage),
    ...(opts.sessionPolicy ? { policy: opts.sessionPolicy } : {}),
  });
  const passkeys = new PasskeyService({
    storage: opts.storage,
    users,
    challenges,
    sessions,
    relyingParty: opts.relyingParty,
    clock: opts.clock,
    ...(opts.passkeyPolicy ? { policy: opts.passkeyPolicy } : {}),
  });
  const { storage, clock } = opts;
  return {
    storage,
    clock,
    hasher,
    users,
    challenges,
    sessions,
    relyingParty: opts.relyingParty,
    passkeys,
    passkeyPolicy: opts.passkeyPolicy ?? {},
    totp: new TotpService({ storage, clock, issuer: opts.totpIssuer ?? 'Bulwark' }),
    recovery: new RecoveryCodeService({ storage, hasher, clock }),
    passwords: new PasswordService({ storage, clock }),
    smsProvider: opts.smsProvider ?? null,
    sms: opts.smsProvider
      ? new SmsCodeService({ storage, hasher, clock, provider: opts.smsProvider })
      : null,
    wipe: () => hasher.wipe(),
  };
}
