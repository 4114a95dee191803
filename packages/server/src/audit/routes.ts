import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../http/app.ts';
import { sourceOf } from '../identity/actor.ts';
import type { AuditActor } from './ledger/entry.ts';
import type { AuditLedger } from './ledger/ledger.ts';

const inclusionQuery = z
  .object({ seq: z.coerce.number().int().min(0), size: z.coerce.number().int().min(1) })
  .strict();
const consistencyQuery = z
  .object({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(0) })
  .strict();
const entriesQuery = z
  .object({
    from: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
const orgEntriesQuery = z
  .object({
    from: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    project: z.uuid('expected a project id').optional(),
  })
  .strict();

/**
 * Signed tree heads, proofs, the verifier key, entries and a full verify.
 * Reading entries is itself recorded (ISO 27001 8.15: access to logs is logged).
 */
export function registerAuditRoutes(app: App, ledger: () => AuditLedger) {
  app.get('/v1/audit/key', { config: { action: 'audit.public' } }, async () => ({
    origin: ledger().origin,
    verifierKey: ledger().verifierKey,
  }));

  /** The latest signed head as a C2SP checkpoint note (text/plain), signing one if none exists. */
  app.get('/v1/audit/checkpoint', { config: { action: 'audit.public' } }, async (_req, reply) => {
    const head = (await ledger().latestHead()) ?? (await ledger().signHead());
    return reply.type('text/plain; charset=utf-8').send(head.checkpoint);
  });

  app.post('/v1/audit/checkpoint', { config: { action: 'audit.admin' } }, async (_req, reply) => {
    const head = await ledger().signHead();
    return reply.type('text/plain; charset=utf-8').send(head.checkpoint);
  });

  app.get('/v1/audit/proofs/inclusion', { config: { action: 'audit.public' } }, async (req) => {
    const { seq, size } = inclusionQuery.parse(req.query);
    return { seq, size, proof: await ledger().inclusionProof(seq, size) };
  });

  app.get('/v1/audit/proofs/consistency', { config: { action: 'audit.public' } }, async (req) => {
    const { from, to } = consistencyQuery.parse(req.query);
    return { from, to, proof: await ledger().consistencyProof(from, to) };
  });

  app.get('/v1/audit/entries', { config: { action: 'audit.admin' } }, async (req) => {
    const { from, limit } = entriesQuery.parse(req.query);
    const entries = await ledger().entries(from, limit);
    await ledger().record({
      action: 'audit.read',
      actor: readerOf(req),
      target: { type: 'audit-entries', id: `${from}+${entries.length}` },
    });
    return { entries: await withPersonal(ledger(), entries) };
  });

  /**
   * An org's admins read the entries about their org (optionally one of its
   * projects); the installation admin reads everything at /v1/audit/entries.
   * Proofs for these entries come from the public proof routes.
   */
  app.get(
    '/v1/orgs/:orgId/audit/entries',
    { config: { action: 'org.audit.read' } },
    async (req) => {
      const { from, limit, project } = orgEntriesQuery.parse(req.query);
      const orgId = req.authz?.scope.orgId;
      if (!orgId) throw new Error('org audit route without an org scope');
      const entries = await ledger().entries(from, limit, {
        orgId,
        ...(project ? { projectId: project } : {}),
      });
      await ledger().record({
        action: 'audit.read',
        actor: readerOf(req),
        target: { type: 'audit-entries', id: entries.length ? `${entries[0]?.seq}…` : null },
        scope: { orgId, projectId: project ?? null },
      });
      return { entries: await withPersonal(ledger(), entries) };
    },
  );

  /**
   * Provenance: an object's versions, each with the ledger entry that made
   * it (who, when, through which channel and session). A client checks the
   * chain with verifyVersionChain and each entry with an inclusion proof.
   */
  const history = (type: string) => async (req: FastifyRequest) => {
    const id = req.authz?.scope.id;
    if (!id) throw new Error('history route without a resolved object');
    return { type, id, versions: await ledger().history(type, id) };
  };
  app.get('/v1/orgs/:orgId/history', { config: { action: 'org.history' } }, history('org'));
  app.get(
    '/v1/projects/:projectId/history',
    { config: { action: 'project.history' } },
    history('project'),
  );
  app.get('/v1/groups/:groupId/history', { config: { action: 'group.history' } }, history('group'));

  /** Every signed head, oldest first: what an offline verifier checks the entries against. */
  app.get('/v1/audit/heads', { config: { action: 'audit.admin' } }, async () => ({
    heads: await ledger().heads(),
  }));

  /** A full verification reads every entry: recorded like any other read of the ledger. */
  app.post('/v1/audit/verify', { config: { action: 'audit.admin' } }, async (req) => {
    const result = await ledger().verify();
    await ledger().record({
      action: 'audit.verify',
      actor: readerOf(req),
      target: { type: 'audit-entries', id: null },
      after: result,
    });
    return result;
  });
}

/** Who read the ledger: a session's user, or the operator token on the server machine. */
function readerOf(req: FastifyRequest): AuditActor {
  const source = sourceOf(req);
  return req.actor
    ? {
        kind: 'user',
        userId: req.actor.userId,
        sessionId: req.actor.sessionId,
        source,
        channel: 'api',
      }
    : { kind: 'operator', source, channel: 'cli' };
}

/** Each entry with its person's data opened for the reader, or `erased` once the person is gone. */
async function withPersonal(
  ledger: AuditLedger,
  entries: Awaited<ReturnType<AuditLedger['entries']>>,
) {
  return Promise.all(
    entries.map(async (e) => ({ ...e, personal: await ledger.revealPersonal(e.entry) })),
  );
}
