import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProjectStore } from '../../directory/projects.ts';
import { authzOf } from '../../directory/routes/shared.ts';
import { type DirectoryDeps, directoryChange } from '../../directory/transaction.ts';
import { BulwarkError } from '../../errors.ts';
import { actorOf } from '../../identity/actor.ts';
import { IssueStore } from '../issues.ts';
import type { HybridClock } from '../model/hlc.ts';
import type { KanbanOperation, OpResult } from '../operations.ts';
import { applyKanbanOp } from '../service.ts';

export interface KanbanDeps extends DirectoryDeps {
  /** The server's hybrid logical clock: stamps plain API edits, bounds clients' stamps. */
  clock: HybridClock;
}

/** What the board and issue routes share: storage, the clock, and running operations. */
export function kanbanContext(deps: KanbanDeps) {
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

  return { deps, storage, now, projectKey, runOps, runOne, issueScope, opIdOf };
}

export type KanbanContext = ReturnType<typeof kanbanContext>;
