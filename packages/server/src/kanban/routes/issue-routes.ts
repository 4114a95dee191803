import { randomUUID } from 'node:crypto';
import { directoryChange } from '../../directory/transaction.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { CommentStore } from '../comments.ts';
import { HistoryStore } from '../history.ts';
import { IssueStore } from '../issues.ts';
import { LinkStore } from '../links.ts';
import { rankBetween } from '../model/rank.ts';
import type { KanbanContext } from './context.ts';
import * as s from './schemas.ts';

/** One issue: read, edit, move, delete, comment, link, and its activity with ledger proofs. */
export function registerIssueRoutes(ctx: KanbanContext) {
  const { deps, storage, projectKey, runOps, runOne, issueScope, opIdOf } = ctx;
  return (app: App): void => {
    app.get('/v1/issues/:issueId', { config: { action: 'issue.read' } }, async (req) => {
      const { projectId, issueId } = issueScope(req);
      const key = await projectKey(projectId);
      const store = storage();
      const issue = await new IssueStore(store).get(issueId, key);
      const links = new LinkStore(store);
      return {
        issue,
        comments: await new CommentStore(store).list(issueId),
        links: await links.of(issueId),
        blockingCycle: (await links.blockingCycle(issueId)).length > 0,
      };
    });

    app.patch('/v1/issues/:issueId', { config: { action: 'issue.write' } }, async (req, reply) => {
      const body = s.updateBody.parse(req.body);
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
        const body = s.moveBody.parse(req.body);
        const { projectId, issueId } = issueScope(req);
        const cards = (await new IssueStore(storage()).positions(body.status)).filter(
          (c) => c.id !== issueId,
        );
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
        const body = s.commentBody.parse(req.body);
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
        const body = s.linkBody.parse(req.body);
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
        const { linkId } = s.linkParams.parse(req.params);
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
  };
}
