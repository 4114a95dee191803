import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ProjectStore } from '../directory/projects.ts';
import { authzOf, scopeProject, uuid } from '../directory/routes/shared.ts';
import { type DirectoryDeps, directoryChange } from '../directory/transaction.ts';
import { BulwarkError } from '../errors.ts';
import type { App } from '../http/app.ts';
import { actorOf, auditActor } from '../identity/actor.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import { ColumnStore } from './columns.ts';
import { CommentStore } from './comments.ts';
import { csvLine } from './csv.ts';
import { HistoryStore } from './history.ts';
import { type Issue, IssueStore } from './issues.ts';
import { LinkStore, linkKinds } from './links.ts';
import type { HybridClock } from './model/hlc.ts';
import { compareCards, rankBetween } from './model/rank.ts';
import { batchSchema, type KanbanOperation, type OpResult } from './operations.ts';
import { issueFilterSchema, matchesFilter } from './search.ts';
import { applyKanbanOp } from './service.ts';
import { ViewStore } from './views.ts';

export interface KanbanDeps extends DirectoryDeps {
  /** The server's hybrid logical clock: stamps plain API edits, bounds clients' stamps. */
  clock: HybridClock;
}

const opFields = {
  opId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,128}$/)
    .optional(),
  hlc: z.string().max(100).optional(),
};
const createBody = z
  .object({ ...opFields, issueId: z.uuid().optional(), set: z.record(z.string(), z.unknown()) })
  .strict();
const updateBody = z.object({ ...opFields, set: z.record(z.string(), z.unknown()) }).strict();
const moveBody = z
  .object({
    ...opFields,
    status: z.uuid('status: expected a column id'),
    /** The card it lands after (null: the top), by id. */
    after: z.uuid().nullable().default(null),
  })
  .strict();
const commentBody = z.object({ ...opFields, body: z.string() }).strict();
const linkBody = z
  .object({ ...opFields, to: z.string().min(1).max(64), link: z.enum(linkKinds) })
  .strict();
const columnBody = z
  .object({
    name: z.string().trim().min(1).max(60),
    wipLimit: z.number().int().min(1).max(1000).nullable().default(null),
    /** The column it comes after (null: first); absent: last. */
    after: z.uuid().nullable().optional(),
  })
  .strict();
const columnPatch = z
  .object({
    name: z.string().trim().min(1).max(60).optional(),
    wipLimit: z.number().int().min(1).max(1000).nullable().optional(),
    after: z.uuid().nullable().optional(),
  })
  .strict();
const boardQuery = z
  .object({ perColumn: z.coerce.number().int().min(1).max(200).default(50) })
  .strict();
const searchQuery = issueFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
const viewBody = z
  .object({ name: z.string().trim().min(1).max(60), filter: issueFilterSchema })
  .strict();
const exportQuery = z.object({ format: z.enum(['json', 'csv']).default('json') }).strict();
const linkParams = z.object({ issueId: uuid('an issue'), linkId: uuid('a link') }).strict();
const viewParams = z.object({ projectId: uuid('a project'), viewId: uuid('a view') }).strict();

/** Boards, issues, comments, links, views and exports: every change is a client operation. */
export function registerKanbanRoutes(deps: KanbanDeps) {
  const storage = () => deps.identity().storage;
  const now = () => deps.identity().clock.now();

  const projectKey = async (projectId: string): Promise<string> => {
    const project = await new ProjectStore(storage()).get(projectId);
    if (!project) throw new BulwarkError('not_found', 'No such project.');
    return project.key;
  };

  /** Applies operations, each in its own transaction with its ledger entry; publishes after commit. */
  const runOps = async (req: FastifyRequest, projectId: string, ops: KanbanOperation[]) => {
    const key = await projectKey(projectId);
    const results: OpResult[] = [];
    for (const op of ops) {
      try {
        results.push(
          await directoryChange(deps, req, (tx) =>
            applyKanbanOp(
              {
                storage: tx.storage,
                record: tx.record,
                actorId: actorOf(req).userId,
                projectId,
                projectKey: key,
                clock: deps.clock,
                now: now(),
              },
              op,
            ),
          ),
        );
      } catch (err) {
        if (!(err instanceof BulwarkError) || err.code === 'internal') throw err;
        // Rejected: nothing changed, nothing remembered (the client may fix it and send a new op).
        results.push({
          opId: op.opId,
          status: 'rejected',
          issueId: op.issueId,
          error: { code: err.code, message: err.message },
        });
      }
    }
    const changed = results.filter((r) => r.status === 'applied').map((r) => r.issueId);
    if (changed.length > 0)
      await deps.publish?.(projectId, { type: 'issues.changed', issues: changed });
    return results;
  };

  /** One operation from a plain API call: a rejection is the HTTP error. */
  const runOne = async (
    req: FastifyRequest,
    reply: FastifyReply,
    projectId: string,
    op: KanbanOperation,
  ) => {
    const [result] = await runOps(req, projectId, [op]);
    if (!result) throw new Error('no result for an operation');
    if (result.status === 'rejected' && result.error) {
      throw new BulwarkError(result.error.code as 'bad_request', result.error.message);
    }
    const issue = await new IssueStore(storage()).get(result.issueId, await projectKey(projectId));
    return reply
      .status(op.kind === 'issue.create' && result.status === 'applied' ? 201 : 200)
      .send({ result, issue });
  };

  const issueScope = (req: FastifyRequest) => {
    const { scope } = authzOf(req);
    if (!scope.projectId || !scope.id) throw new Error('issue route without its issue');
    return { projectId: scope.projectId, issueId: scope.id };
  };
  const opIdOf = (given: string | undefined) => given ?? randomUUID();

  return (app: App): void => {
    app.get('/v1/projects/:projectId/board', { config: { action: 'board.read' } }, async (req) => {
      const { perColumn } = boardQuery.parse(req.query);
      const projectId = scopeProject(req);
      const key = await projectKey(projectId);
      const columns = await new ColumnStore(storage()).list(projectId, now());
      const issues = await new IssueStore(storage()).all(projectId, key);
      return {
        project: { id: projectId, key },
        columns: columns.map((c) => {
          const cards = issues.filter((i) => i.status === c.id).sort(compareCards);
          return {
            ...c,
            count: cards.length,
            overWipLimit: c.wipLimit !== null && cards.length > c.wipLimit,
            issues: cards.slice(0, perColumn),
          };
        }),
      };
    });

    app.get('/v1/projects/:projectId/issues', { config: { action: 'board.read' } }, async (req) => {
      const { limit, offset, ...filter } = searchQuery.parse(req.query);
      const projectId = scopeProject(req);
      const all = await new IssueStore(storage()).all(projectId, await projectKey(projectId));
      const found = all.filter((i) => matchesFilter(i, filter)).sort((a, b) => a.number - b.number);
      return { total: found.length, issues: found.slice(offset, offset + limit) };
    });

    app.post(
      '/v1/projects/:projectId/issues',
      { config: { action: 'board.write' } },
      async (req, reply) => {
        const body = createBody.parse(req.body);
        const op: KanbanOperation = {
          kind: 'issue.create',
          opId: opIdOf(body.opId),
          issueId: body.issueId ?? randomUUID(),
          set: body.set,
          ...(body.hlc ? { hlc: body.hlc } : {}),
        };
        return runOne(req, reply, scopeProject(req), op);
      },
    );

    app.post('/v1/projects/:projectId/ops', { config: { action: 'board.write' } }, async (req) => {
      const { ops } = batchSchema.parse(req.body);
      return { results: await runOps(req, scopeProject(req), ops) };
    });

    app.post(
      '/v1/projects/:projectId/columns',
      { config: { action: 'board.configure' } },
      async (req, reply) => {
        const body = columnBody.parse(req.body);
        const projectId = scopeProject(req);
        const column = await directoryChange(deps, req, async (tx) => {
          const columns = new ColumnStore(tx.storage);
          const existing = await columns.list(projectId, now());
          const [before, after] = neighbours(existing, body.after);
          const made = await columns.create(
            projectId,
            body.name,
            body.wipLimit,
            before,
            after,
            now(),
          );
          await tx.record({
            action: 'board.column.add',
            target: { type: 'column', id: made.id },
            after: made,
          });
          return made;
        });
        await deps.publish?.(projectId, { type: 'board.changed' });
        return reply.status(201).send({ column });
      },
    );

    app.patch('/v1/columns/:columnId', { config: { action: 'column.configure' } }, async (req) => {
      const change = columnPatch.parse(req.body);
      const { scope } = authzOf(req);
      const projectId = scope.projectId as string;
      const column = await directoryChange(deps, req, async (tx) => {
        const columns = new ColumnStore(tx.storage);
        const current = await columns.get(scope.id as string);
        if (!current) throw new BulwarkError('not_found', 'No such column.');
        let rank: string | undefined;
        if (change.after !== undefined) {
          const others = (await columns.list(projectId, now())).filter((c) => c.id !== current.id);
          const [before, after] = neighbours(others, change.after);
          rank = rankBetween(before, after);
        }
        const updated = await columns.update(
          current,
          {
            ...(change.name !== undefined ? { name: change.name } : {}),
            ...(change.wipLimit !== undefined ? { wipLimit: change.wipLimit } : {}),
            ...(rank !== undefined ? { rank } : {}),
          },
          now(),
        );
        await tx.record({
          action: 'board.column.update',
          target: { type: 'column', id: current.id },
          before: current,
          after: updated,
        });
        return updated;
      });
      await deps.publish?.(projectId, { type: 'board.changed' });
      return { column };
    });

    app.delete(
      '/v1/columns/:columnId',
      { config: { action: 'column.configure' } },
      async (req, reply) => {
        const { scope } = authzOf(req);
        await directoryChange(deps, req, async (tx) => {
          const columns = new ColumnStore(tx.storage);
          const current = await columns.get(scope.id as string);
          if (!current) throw new BulwarkError('not_found', 'No such column.');
          await columns.delete(current, now());
          await tx.record({
            action: 'board.column.delete',
            target: { type: 'column', id: current.id },
            before: current,
          });
        });
        await deps.publish?.(scope.projectId as string, { type: 'board.changed' });
        return reply.status(204).send();
      },
    );

    app.get('/v1/issues/:issueId', { config: { action: 'issue.read' } }, async (req) => {
      const { projectId, issueId } = issueScope(req);
      const key = await projectKey(projectId);
      const s = storage();
      const issue = await new IssueStore(s).get(issueId, key);
      const links = new LinkStore(s);
      return {
        issue,
        comments: await new CommentStore(s).list(issueId),
        links: await links.of(issueId),
        blockingCycle: (await links.blockingCycle(issueId)).length > 0,
      };
    });

    app.patch('/v1/issues/:issueId', { config: { action: 'issue.write' } }, async (req, reply) => {
      const body = updateBody.parse(req.body);
      const { projectId, issueId } = issueScope(req);
      return runOne(req, reply, projectId, {
        kind: 'issue.update',
        opId: opIdOf(body.opId),
        issueId,
        set: body.set,
        ...(body.hlc ? { hlc: body.hlc } : {}),
      });
    });

    app.post(
      '/v1/issues/:issueId/move',
      { config: { action: 'issue.write' } },
      async (req, reply) => {
        const body = moveBody.parse(req.body);
        const { projectId, issueId } = issueScope(req);
        const cards = (await new IssueStore(storage()).all(projectId, await projectKey(projectId)))
          .filter((i) => i.status === body.status && i.id !== issueId)
          .sort(compareCards);
        const at = body.after === null ? -1 : cards.findIndex((c) => c.id === body.after);
        if (body.after !== null && at === -1) {
          throw new BulwarkError('bad_request', 'after: that card is not in the target column.');
        }
        const rank = rankBetween(cards[at]?.rank ?? null, cards[at + 1]?.rank ?? null);
        return runOne(req, reply, projectId, {
          kind: 'issue.update',
          opId: opIdOf(body.opId),
          issueId,
          set: { status: body.status, rank },
          ...(body.hlc ? { hlc: body.hlc } : {}),
        });
      },
    );

    app.delete('/v1/issues/:issueId', { config: { action: 'issue.write' } }, async (req, reply) => {
      const { projectId, issueId } = issueScope(req);
      const [result] = await runOps(req, projectId, [
        { kind: 'issue.delete', opId: randomUUID(), issueId },
      ]);
      if (result?.status === 'rejected' && result.error) {
        throw new BulwarkError(result.error.code as 'bad_request', result.error.message);
      }
      return reply.status(204).send();
    });

    app.post(
      '/v1/issues/:issueId/comments',
      { config: { action: 'issue.write' } },
      async (req, reply) => {
        const body = commentBody.parse(req.body);
        const { projectId, issueId } = issueScope(req);
        return runOne(req, reply, projectId, {
          kind: 'comment.add',
          opId: opIdOf(body.opId),
          issueId,
          body: body.body,
          ...(body.hlc ? { hlc: body.hlc } : {}),
        });
      },
    );

    app.post(
      '/v1/issues/:issueId/links',
      { config: { action: 'issue.write' } },
      async (req, reply) => {
        const body = linkBody.parse(req.body);
        const { projectId, issueId } = issueScope(req);
        return runOne(req, reply, projectId, {
          kind: 'link.add',
          opId: opIdOf(body.opId),
          issueId,
          to: body.to,
          link: body.link,
          ...(body.hlc ? { hlc: body.hlc } : {}),
        });
      },
    );

    app.delete(
      '/v1/issues/:issueId/links/:linkId',
      { config: { action: 'issue.write' } },
      async (req, reply) => {
        const { linkId } = linkParams.parse(req.params);
        const { projectId, issueId } = issueScope(req);
        const key = await projectKey(projectId);
        await directoryChange(deps, req, async (tx) => {
          const removed = await new LinkStore(tx.storage).remove(issueId, linkId);
          if (!removed) throw new BulwarkError('not_found', 'No such link on this issue.');
          await tx.record({
            action: 'issue.unlink',
            target: { type: 'issue', id: issueId },
            issue: `${key}-${(await new IssueStore(tx.storage).get(issueId, key))?.number}`,
            before: removed,
          });
        });
        await deps.publish?.(projectId, { type: 'issues.changed', issues: [issueId] });
        return reply.status(204).send();
      },
    );

    /**
     * Why did this issue change, and what changed because of it: its own
     * history (including values that lost a concurrent edit) and every ledger
     * entry citing it, each with an inclusion proof against a signed head.
     */
    app.get('/v1/issues/:issueId/activity', { config: { action: 'issue.read' } }, async (req) => {
      const { projectId, issueId } = issueScope(req);
      const key = await projectKey(projectId);
      const issue = await new IssueStore(storage()).get(issueId, key);
      if (!issue) throw new BulwarkError('not_found', 'No such issue.');
      const ledger = deps.ledger();
      const records = (await ledger.records(0, 1000, { issue: issue.key, projectId })).filter(
        (r) => r.entry !== null,
      );
      let head = await ledger.latestHead();
      const newest = records.at(-1)?.seq ?? -1;
      if (!head || head.size <= newest) head = await ledger.signHead();
      const entries = [];
      for (const r of records) {
        entries.push({
          ...r,
          proof: { size: head.size, path: await ledger.inclusionProof(r.seq, head.size) },
        });
      }
      return {
        issue: { id: issue.id, key: issue.key },
        history: await new HistoryStore(storage()).of(issueId),
        entries,
        checkpoint: head.checkpoint,
      };
    });

    app.get(
      '/v1/projects/:projectId/views',
      { config: { action: 'board.views' } },
      async (req) => ({
        views: await new ViewStore(storage()).list(actorOf(req).userId, scopeProject(req)),
      }),
    );

    app.post(
      '/v1/projects/:projectId/views',
      { config: { action: 'board.views' } },
      async (req, reply) => {
        const body = viewBody.parse(req.body);
        const view = await directoryChange(deps, req, async (tx) => {
          const made = await new ViewStore(tx.storage).add(
            actorOf(req).userId,
            scopeProject(req),
            body.name,
            body.filter,
            now(),
          );
          await tx.record({ action: 'board.view.add', target: { type: 'view', id: made.id } });
          return made;
        });
        return reply.status(201).send({ view });
      },
    );

    app.delete(
      '/v1/projects/:projectId/views/:viewId',
      { config: { action: 'board.views' } },
      async (req, reply) => {
        const { viewId } = viewParams.parse(req.params);
        await directoryChange(deps, req, async (tx) => {
          const views = new ViewStore(tx.storage);
          if (!(await views.remove(actorOf(req).userId, scopeProject(req), viewId))) {
            throw new BulwarkError('not_found', 'No such view of yours.');
          }
          await tx.record({ action: 'board.view.remove', target: { type: 'view', id: viewId } });
        });
        return reply.status(204).send();
      },
    );

    /** The whole board, where the project's policy lets this caller export; the export is recorded. */
    app.get(
      '/v1/projects/:projectId/board/export',
      { config: { action: 'board.export' } },
      async (req, reply) => {
        const { format } = exportQuery.parse(req.query);
        const projectId = scopeProject(req);
        const { relation } = authzOf(req);
        const { effective } = await new PolicyStore(storage()).effectiveForProject(projectId);
        const internal = relation.orgRole !== null && relation.orgRole !== 'guest';
        if (!(internal ? effective.internal : effective.external).exportAllowed) {
          throw new BulwarkError(
            'policy_unsatisfied',
            "This project's policy does not allow you to export its board.",
          );
        }
        const key = await projectKey(projectId);
        const columns = await new ColumnStore(storage()).list(projectId, now());
        const issues = (await new IssueStore(storage()).all(projectId, key)).sort(
          (a, b) => a.number - b.number,
        );
        await deps.ledger().record({
          action: 'board.export',
          actor: auditActor(req),
          target: { type: 'project', id: projectId },
          scope: { orgId: authzOf(req).scope.orgId, projectId },
          after: { format, issues: issues.length },
        });
        reply.header('content-disposition', `attachment; filename="${key}-board.${format}"`);
        if (format === 'json') return { project: { id: projectId, key }, columns, issues };
        const columnName = new Map(columns.map((c) => [c.id, c.name]));
        const lines = [
          csvLine([
            'key',
            'title',
            'status',
            'priority',
            'labels',
            'assignees',
            'due',
            'estimate',
            'created',
            'updated',
          ]),
          ...issues.map((i: Issue) =>
            csvLine([
              i.key,
              i.title,
              columnName.get(i.status) ?? i.status,
              i.priority,
              i.labels.join('; '),
              i.assignees.join('; '),
              i.dueDate,
              i.estimate,
              i.createdAt,
              i.updatedAt,
            ]),
          ),
        ];
        return reply.type('text/csv; charset=utf-8').send(lines.join(''));
      },
    );
  };
}

/** The ranks around a column placed after `after` (null: first; undefined: last). */
function neighbours(
  columns: readonly { id: string; rank: string }[],
  after: string | null | undefined,
): [string | null, string | null] {
  if (after === undefined) return [columns.at(-1)?.rank ?? null, null];
  if (after === null) return [null, columns[0]?.rank ?? null];
  const at = columns.findIndex((c) => c.id === after);
  if (at < 0) throw new BulwarkError('bad_request', 'after: no such column on this board.');
  return [columns[at]?.rank ?? null, columns[at + 1]?.rank ?? null];
}
