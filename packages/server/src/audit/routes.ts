import { z } from 'zod';
import type { App } from '../http/app.ts';
import { actorOf, sourceOf } from '../identity/actor.ts';
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

/**
 * Signed tree heads, proofs, the verifier key, entries and a full verify.
 * Reading entries is itself recorded (ISO 27001 8.15: access to logs is logged).
 */
export function registerAuditRoutes(app: App, ledger: () => AuditLedger) {
  app.get('/v1/audit/key', { config: { access: 'authenticated' } }, async () => ({
    origin: ledger().origin,
    verifierKey: ledger().verifierKey,
  }));

  /** The latest signed head as a C2SP checkpoint note (text/plain), signing one if none exists. */
  app.get('/v1/audit/checkpoint', { config: { access: 'authenticated' } }, async (_req, reply) => {
    const head = (await ledger().latestHead()) ?? (await ledger().signHead());
    return reply.type('text/plain; charset=utf-8').send(head.checkpoint);
  });

  app.post('/v1/audit/checkpoint', { config: { access: 'admin' } }, async (_req, reply) => {
    const head = await ledger().signHead();
    return reply.type('text/plain; charset=utf-8').send(head.checkpoint);
  });

  app.get('/v1/audit/proofs/inclusion', { config: { access: 'authenticated' } }, async (req) => {
    const { seq, size } = inclusionQuery.parse(req.query);
    return { seq, size, proof: await ledger().inclusionProof(seq, size) };
  });

  app.get('/v1/audit/proofs/consistency', { config: { access: 'authenticated' } }, async (req) => {
    const { from, to } = consistencyQuery.parse(req.query);
    return { from, to, proof: await ledger().consistencyProof(from, to) };
  });

  app.get('/v1/audit/entries', { config: { access: 'admin' } }, async (req) => {
    const { from, limit } = entriesQuery.parse(req.query);
    const actor = actorOf(req);
    const entries = await ledger().entries(from, limit);
    await ledger().record({
      action: 'audit.read',
      actor: {
        kind: 'user',
        userId: actor.userId,
        sessionId: actor.sessionId,
        source: sourceOf(req),
        channel: 'api',
      },
      target: { type: 'audit-entries', id: `${from}+${entries.length}` },
    });
    return { entries };
  });

  app.post('/v1/audit/verify', { config: { access: 'admin' } }, async () => ledger().verify());
}
