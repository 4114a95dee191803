import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BulwarkError } from '../errors.ts';
import type { App } from '../http/app.ts';
import { sourceOf } from '../identity/actor.ts';
import type { AuditActor } from './ledger/entry.ts';
import type { AuditLedger, EntryFilter } from './ledger/ledger.ts';

const inclusionQuery = z
  .object({ seq: z.coerce.number().int().min(0), size: z.coerce.number().int().min(1) })
  .strict();
const consistencyQuery = z
  .object({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(0) })
  .strict();
const isoTime = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time' });
/** Paging and filters shared by every entries route; each route narrows what it may widen. */
const filterShape = {
  from: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  actor: z.uuid('expected a user id').optional(),
  action: z
    .string()
    .regex(
      /^[a-z0-9-]+(\.[a-z0-9-]+)*(\.\*)?$/,
      'an action like user.create, or user.* for a domain',
    )
    .optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  issue: z.string().min(1).max(100).optional(),
};
const adminEntriesQuery = z
  .object({
    ...filterShape,
    org: z.uuid('expected an org id').optional(),
    project: z.uuid('expected a project id').optional(),
  })
  .strict();
const orgEntriesQuery = z
  .object({ ...filterShape, project: z.uuid('expected a project id').optional() })
  .strict();
const narrowEntriesQuery = z.object(filterShape).strict();

type FilterQuery = z.output<typeof narrowEntriesQuery>;
function toFilter(q: FilterQuery): EntryFilter {
  return {
    ...(q.actor ? { actorId: q.actor } : {}),
    ...(q.action ? { action: q.action } : {}),
    ...(q.since ? { since: new Date(q.since) } : {}),
    ...(q.until ? { until: new Date(q.until) } : {}),
    ...(q.issue ? { issue: q.issue } : {}),
  };
}

/**
 * Signed tree heads, proofs, the verifier key, entries and a full verify.
 * Reading entries is itself recorded (ISO 27001 8.15: access to logs is logged).
 */
export function registerAuditRoutes(
  app: App,
  ledger: () => AuditLedger,
  opts: {
    /** The org a project belongs to (null when there is no such project). */
    projectOrg: (projectId: string) => Promise<string | null>;
  },
) {
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

  /** Reads a page of entries and records the read (about the same org and project). */
  const readEntries = async (
    req: FastifyRequest,
    q: FilterQuery,
    filter: EntryFilter,
  ): Promise<{ entries: unknown[] }> => {
    const records = await ledger().records(q.from, q.limit, filter);
    await ledger().record({
      action: 'audit.read',
      actor: readerOf(req),
      target: {
        type: 'audit-entries',
        id: records.length ? `${records[0]?.seq}-${records.at(-1)?.seq}` : null,
      },
      scope: { orgId: filter.orgId ?? null, projectId: filter.projectId ?? null },
    });
    return { entries: await withPersonal(ledger(), records) };
  };

  /** The installation admin (or the operator on the server machine): every entry, any filter. */
  app.get('/v1/audit/entries', { config: { action: 'audit.admin' } }, async (req) => {
    const q = adminEntriesQuery.parse(req.query);
    return readEntries(req, q, {
      ...toFilter(q),
      ...(q.org ? { orgId: q.org } : {}),
      ...(q.project ? { projectId: q.project } : {}),
    });
  });

  /**
   * An org's admins: the entries about their org, optionally one of its
   * projects. A project of another org is refused as unknown, so a filter
   * can never widen the view beyond the org.
   */
  app.get(
    '/v1/orgs/:orgId/audit/entries',
    { config: { action: 'org.audit.read' } },
    async (req) => {
      const q = orgEntriesQuery.parse(req.query);
      const orgId = req.authz?.scope.orgId;
      if (!orgId) throw new Error('org audit route without an org scope');
      if (q.project && (await opts.projectOrg(q.project)) !== orgId) {
        throw new BulwarkError('not_found', 'No such project in this org.');
      }
      return readEntries(req, q, {
        ...toFilter(q),
        orgId,
        ...(q.project ? { projectId: q.project } : {}),
      });
    },
  );

  /** A project's admins: the entries about their project. */
  app.get(
    '/v1/projects/:projectId/audit/entries',
    { config: { action: 'project.audit.read' } },
    async (req) => {
      const q = narrowEntriesQuery.parse(req.query);
      const { orgId, projectId } = req.authz?.scope ?? {};
      if (!orgId || !projectId) throw new Error('project audit route without a project scope');
      return readEntries(req, q, { ...toFilter(q), orgId, projectId });
    },
  );

  /** Everyone: the entries of their own actions (an actor filter cannot name someone else). */
  app.get('/v1/me/audit/entries', { config: { action: 'me.audit.read' } }, async (req) => {
    const q = narrowEntriesQuery.parse(req.query);
    const me = req.actor?.userId;
    if (!me) throw new BulwarkError('unauthenticated');
    if (q.actor && q.actor !== me) {
      throw new BulwarkError('forbidden', 'Here you read your own actions only.');
    }
    return readEntries(req, q, { ...toFilter(q), actorId: me });
  });

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
  records: Awaited<ReturnType<AuditLedger['records']>>,
) {
  return Promise.all(
    records.map(async (r) =>
      r.entry === null
        ? { ...r, pruned: true, personal: null }
        : { ...r, pruned: false, personal: await ledger.revealPersonal(r.entry) },
    ),
  );
}
