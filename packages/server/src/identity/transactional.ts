import type { AuditEvent } from '../audit/ledger/entry.ts';
import type { AuditLedger } from '../audit/ledger/ledger.ts';
import { policyLoginGate } from '../policy/login-gate.ts';
import { Storage } from '../storage/storage.ts';
import { ChallengeStore } from './challenges/challenge-store.ts';
import type { IdentityContext } from './context.ts';
import { PasskeyService } from './passkeys/service.ts';
import { PasswordService } from './passwords/service.ts';
import { RecoveryCodeService } from './recovery/service.ts';
import { SessionService } from './sessions/service.ts';
import { SessionStore } from './sessions/store.ts';
import { SmsCodeService } from './sms/service.ts';
import { TotpService } from './totp/service.ts';
import { UserStore } from './user-store.ts';

/** Identity services bound to one database transaction. */
export interface TransactionalIdentity {
  storage: Storage;
  users: UserStore;
  challenges: ChallengeStore;
  sessions: SessionService;
  totp: TotpService;
  recovery: RecoveryCodeService;
  passwords: PasswordService;
  passkeys: PasskeyService;
  /** Null when SMS is off. Never send inside a transaction: the provider is a network call. */
  sms: SmsCodeService | null;
  /** Appends the change's ledger entry in this same transaction. */
  record(event: AuditEvent): Promise<void>;
}

/**
 * Runs a change and its audit entry in one transaction: both commit or
 * neither does (the ledger fails closed). Every query inside must go through
 * the services handed in — on SQLite the one connection is the transaction's.
 */
export async function changeWithAudit<T>(
  identity: IdentityContext,
  ledger: AuditLedger,
  change: (tx: TransactionalIdentity) => Promise<T>,
): Promise<T> {
  const outer = identity.storage;
  return outer.db.transaction().execute(async (trx) => {
    const storage = new Storage(trx, outer.backend, outer.fields);
    const users = new UserStore(storage);
    const { clock, hasher } = identity;
    const sessions = new SessionService({
      store: new SessionStore(storage),
      users,
      hasher,
      clock,
      gate: policyLoginGate(storage),
    });
    const challenges = new ChallengeStore({ storage, hasher, clock });
    return change({
      storage,
      users,
      challenges,
      sessions,
      passkeys: new PasskeyService({
        storage,
        users,
        challenges,
        sessions,
        relyingParty: identity.relyingParty,
        clock,
        policy: identity.passkeyPolicy,
      }),
      totp: new TotpService({ storage, clock, issuer: 'Bulwark' }),
      recovery: new RecoveryCodeService({ storage, hasher, clock }),
      passwords: new PasswordService({ storage, clock }),
      sms: identity.smsProvider
        ? new SmsCodeService({ storage, hasher, clock, provider: identity.smsProvider })
        : null,
      record: async (event) => {
        await ledger.append(trx, event);
      },
    });
  });
}
