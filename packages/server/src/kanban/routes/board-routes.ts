import { randomUUID } from 'node:crypto';
import { authzOf, scopeProject } from '../../directory/routes/shared.ts';
import { directoryChange } from '../../directory/transaction.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf, auditActor } from '../../identity/actor.ts';
import { PolicyStore } from '../../policy/policy-store.ts';
import { ColumnStore } from '../columns.ts';
import { csvLine } from '../csv.ts';
import { type Issue, IssueStore } from '../issues.ts';
import { compareCards, rankBetween } from '../model/rank.ts';
import { batchSchema, type KanbanOperation } from '../operations.ts';
import { matchesFilter } from '../search.ts';
import { ViewStore } from '../views.ts';
import type { KanbanContext } from './context.ts';
import * as s from './schemas.ts';

/** The board: its columns and cards, issue search, new issues, the operations outbox, views, export. */
export function registerBoardRoutes(ctx: KanbanContext) {
  const { deps, storage, now, projectKey, runOps, runOne, opIdOf } = ctx;
  return (app: App): void => {
    app.get('/v1/projects/:projectId/board', { config: { action: 'board.read' } }, async (req) => {
      const { perColumn } = s.boardQuery.parse(req.query);
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
      const { limit, offset, ...filter } = s.searchQuery.parse(req.query);
      const projectId = scopeProject(req);
      const all = await new IssueStore(storage()).all(projectId, await projectKey(projectId));
      const found = all.filter((i) => matchesFilter(i, filter)).sort((a, b) => a.number - b.number);
      return { total: found.length, issues: found.slice(offset, offset + limit) };
    });

    app.post(
      '/v1/projects/:projectId/issues',
      { config: { action: 'board.write' } },
      async (req, reply) => {
        const body = s.createBody.parse(req.body);
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
        const body = s.columnBody.parse(req.body);
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
      const change = s.columnPatch.parse(req.body);
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
        const body = s.viewBody.parse(req.body);
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
        const { viewId } = s.viewParams.parse(req.params);
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
        const { format } = s.exportQuery.parse(req.query);
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
