import type { FastifyRequest } from 'fastify';
import type { AuditEvent } from '../audit/ledger/entry.ts';
import type { AuditLedger } from '../audit/ledger/ledger.ts';
import { auditActor } from '../identity/actor.ts';
import type { IdentityContext } from '../identity/context.ts';
import { Storage } from '../storage/storage.ts';

/** What the directory routes need from the composition root (each throws `sealed` while sealed). */
export interface DirectoryDeps {
  identity: () => IdentityContext;
  ledger: () => AuditLedger;
  /** Live updates, called after the commit (never rejects); absent in tests that build routes alone. */
  publish?: (projectId: string, event: object, opts?: { accessChanged?: boolean }) => Promise<void>;
  /** After an org or project policy changed (the DNS resolver rebuilds its policies); never rejects. */
  policyChanged?: () => Promise<void>;
}

export interface DirectoryTx {
  storage: Storage;
  /** Appends the change's ledger entry in this same transaction; the actor is the request's. */
  record(event: Omit<AuditEvent, 'actor'>): Promise<void>;
}

/**
 * Runs a directory change and its ledger entry in one transaction: both
 * commit or neither does. Everything inside must use `tx.storage` (on SQLite
 * the one connection belongs to the transaction).
 */
export async function directoryChange<T>(
  deps: DirectoryDeps,
  req: FastifyRequest,
  change: (tx: DirectoryTx) => Promise<T>,
): Promise<T> {
  const outer = deps.identity().storage;
  const ledger = deps.ledger();
  const actor = auditActor(req);
  // Entries are about the org and project the route acts on, unless the event names its own.
  const resolved = req.authz?.scope;
  const routeScope = { orgId: resolved?.orgId ?? null, projectId: resolved?.projectId ?? null };
  return outer.db.transaction().execute(async (trx) => {
    const storage = new Storage(trx, outer.backend, outer.fields);
    return change({
      storage,
      record: async (event) => {
        await ledger.append(trx, {
          // The issue the request cites (validated by the guard), unless the event names its own.
          issue: req.authz?.issue ?? null,
          ...event,
          actor,
          scope: { ...routeScope, ...event.scope },
        });
      },
    });
  });
}
