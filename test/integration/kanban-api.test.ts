/**
 * The issue Kanban through the API, on both back ends: boards and columns,
 * issues created, edited, moved and deleted as client operations (once
 * only, merged field by field by hybrid logical clock, the loser kept and
 * shown to its author), comments, links, search and saved views, exports
 * under the project's policy, the activity view with ledger proofs, and
 * "every change links to an issue".
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import {
  Ed25519NoteVerifier,
  fromHex,
  leafHash,
  verifyCheckpoint,
  verifyInclusion,
} from '@bulwark/ledger';
import { buildWorld, givePasskey, type Persona } from '../support/directory-world.ts';
import type { Answer } from '../support/https.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

type Json = Record<string, unknown>;
type Issue = {
  id: string;
  key: string;
  title: string;
  status: string;
  rank: string;
  description: string;
};
type Column = {
  id: string;
  name: string;
  wipLimit: number | null;
  count: number;
  overWipLimit: boolean;
  issues: Issue[];
};
const json = (a: Answer) => JSON.parse(a.body) as Json;
const codeOf = (a: Answer) => (json(a).error as { code?: string } | undefined)?.code;
const hlcFor = (userId: string, ms: number, counter = 0) =>
  `${String(ms).padStart(13, '0')}-${String(counter).padStart(5, '0')}-${userId}`;

async function setup(t: TestContext, backend: 'sqlite' | 'postgres') {
  const pg = backend === 'postgres' ? await postgresSchema(t) : null;
  const server = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
  await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'kanban passphrase' },
  });
  const world = await buildWorld(server);
  const board = async (who: Persona = 'internalMember') => {
    const answer = await world.call(who, `/v1/projects/${world.apollo}/board`);
    assert.equal(answer.status, 200, answer.body);
    return (json(answer) as { columns: Column[] }).columns;
  };
  const create = async (who: Persona, set: Json) => {
    const answer = await world.call(who, `/v1/projects/${world.apollo}/issues`, {
      method: 'POST',
      body: { set },
    });
    assert.equal(answer.status, 201, answer.body);
    return (json(answer) as { issue: Issue }).issue;
  };
  return { server, world, board, create };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`kanban (${backend})`, () => {
    it('board, issues, moves with stable order, WIP warnings; viewers read, members edit', async (t) => {
      const { world, board, create } = await setup(t, backend);
      const { call } = world;
      const columns = await board();
      assert.deepEqual(
        columns.map((c) => c.name),
        ['To do', 'In progress', 'Review', 'Done'],
      );
      const [todo, doing] = columns as [Column, Column];

      const a = await create('internalMember', { title: 'Write the spec' });
      const b = await create('externalMember', { title: 'Review the spec', priority: 'high' });
      assert.equal(a.key, 'APOLLO-2');
      assert.equal(b.key, 'APOLLO-3');
      assert.equal(a.status, todo.id, 'new cards go to the first column');
      const created = await call('internalViewer', `/v1/projects/${world.apollo}/issues`, {
        method: 'POST',
        body: { set: { title: 'nope' } },
      });
      assert.equal(created.status, 403, 'viewers read only');

      // Moves: into In progress, b on top of a; the order is the one asked for.
      const move = (who: Persona, id: string, status: string, after: string | null) =>
        call(who, `/v1/issues/${id}/move`, { method: 'POST', body: { status, after } });
      assert.equal((await move('internalMember', a.id, doing.id, null)).status, 200);
      assert.equal((await move('internalMember', b.id, doing.id, null)).status, 200);
      const inProgress = (await board()).find((c) => c.id === doing.id);
      assert.deepEqual(
        inProgress?.issues.map((i) => i.key),
        ['APOLLO-3', 'APOLLO-2'],
      );

      // A WIP limit of 1 is exceeded: warned, not refused.
      const limited = await call('orgOwner', `/v1/columns/${doing.id}`, {
        method: 'PATCH',
        body: { wipLimit: 1 },
      });
      assert.equal(limited.status, 200, limited.body);
      const third = await create('internalMember', { title: 'Third' });
      const over = await move('internalMember', third.id, doing.id, a.id);
      assert.equal(over.status, 200);
      assert.match(
        ((json(over).result as { warnings?: string[] }).warnings ?? []).join(),
        /WIP limit of 1/,
      );
      assert.equal((await board()).find((c) => c.id === doing.id)?.overWipLimit, true);

      // Bad input: unknown column, a card that is not there, an oversized description.
      assert.equal((await move('internalMember', a.id, randomUUID(), null)).status, 400);
      assert.equal((await move('internalMember', a.id, doing.id, randomUUID())).status, 400);
      const huge = await call('internalMember', `/v1/issues/${a.id}`, {
        method: 'PATCH',
        body: { set: { description: 'x'.repeat(100_001) } },
      });
      assert.equal(huge.status, 400, huge.body);
      assert.match(huge.body, /description/);
      assert.equal(
        (json(await call('internalMember', `/v1/issues/${a.id}`)).issue as Issue).description,
        '',
      );

      // Deleted: gone from the board; an edit that arrives later changes nothing.
      assert.equal(
        (await call('internalMember', `/v1/issues/${third.id}`, { method: 'DELETE' })).status,
        204,
      );
      const late = await call('internalMember', `/v1/projects/${world.apollo}/ops`, {
        method: 'POST',
        body: {
          ops: [
            { kind: 'issue.update', opId: randomUUID(), issueId: third.id, set: { title: 'late' } },
          ],
        },
      });
      const lateResult = (json(late) as { results: { status: string; error: { code: string } }[] })
        .results[0];
      assert.equal(lateResult?.status, 'rejected');
      assert.equal(lateResult?.error.code, 'conflict');
      // Column configuration is for project admins; an occupied column cannot go.
      assert.equal(
        (await call('internalMember', `/v1/columns/${doing.id}`, { method: 'DELETE' })).status,
        403,
      );
      assert.equal(
        codeOf(await call('orgOwner', `/v1/columns/${doing.id}`, { method: 'DELETE' })),
        'conflict',
      );
    });

    it('offline operations: applied once, merged by clock, the loser kept and shown to its author', async (t) => {
      const { world, create } = await setup(t, backend);
      const { call } = world;
      const issue = await create('internalMember', { title: 'Original' });
      const alice = world.people.internalMember.id;
      const erin = world.people.externalMember.id;
      // Stamped after the card's creation (a few seconds ahead is within the allowed drift).
      const base = Date.now() + 1000;
      const ops = (who: Persona, list: Json[]) =>
        call(who, `/v1/projects/${world.apollo}/ops`, { method: 'POST', body: { ops: list } });
      type Results = {
        results: {
          opId: string;
          status: string;
          conflicts?: { field: string; value: unknown }[];
          error?: { message: string };
        }[];
      };

      // Alice edited later (offline); Erin's earlier edit arrives after hers.
      const aliceOp = {
        kind: 'issue.update',
        opId: randomUUID(),
        hlc: hlcFor(`${alice}_laptop`, base + 2000),
        issueId: issue.id,
        set: { title: 'Alice title' },
      };
      const erinOp = {
        kind: 'issue.update',
        opId: randomUUID(),
        hlc: hlcFor(erin, base + 1000),
        issueId: issue.id,
        set: { title: 'Erin title', priority: 'low' },
      };
      const first = json(await ops('internalMember', [aliceOp, aliceOp])) as Results;
      assert.deepEqual(
        first.results.map((r) => r.status),
        ['applied', 'duplicate'],
        'the same op twice applies once',
      );
      const second = json(await ops('externalMember', [erinOp])) as Results;
      assert.equal(second.results[0]?.status, 'applied');
      assert.deepEqual(
        second.results[0]?.conflicts?.map((c) => [c.field, c.value]),
        [['title', 'Erin title']],
      );
      const now = json(await call('internalMember', `/v1/issues/${issue.id}`)).issue as Issue & {
        priority: string;
      };
      assert.equal(now.title, 'Alice title', 'the later clock wins the title');
      assert.equal(now.priority, 'low', 'fields merge one by one');
      // Retried later (say after a lost answer): the same answer, nothing changes.
      const retried = json(await ops('externalMember', [erinOp])) as Results;
      assert.equal(retried.results[0]?.status, 'duplicate');
      const activity = json(await call('internalMember', `/v1/issues/${issue.id}/activity`)) as {
        history: { field: string; value: unknown; outcome: string }[];
      };
      assert.ok(
        activity.history.some(
          (h) => h.field === 'title' && h.value === 'Erin title' && h.outcome === 'lost',
        ),
        'never silently lost',
      );
      assert.equal(
        activity.history.filter((h) => h.field === 'title' && h.value === 'Alice title').length,
        1,
      );

      // Someone else's clock, or a clock from the future, is refused: nothing changes.
      const forged = json(
        await ops('externalMember', [
          { ...erinOp, opId: randomUUID(), hlc: hlcFor(alice, base + 5000) },
        ]),
      ) as Results;
      assert.equal(forged.results[0]?.status, 'rejected');
      assert.match(forged.results[0]?.error?.message ?? '', /node id/);
      const future = json(
        await ops('externalMember', [
          { ...erinOp, opId: randomUUID(), hlc: hlcFor(erin, Date.now() + 3_600_000) },
        ]),
      ) as Results;
      assert.match(future.results[0]?.error?.message ?? '', /clock is \d+ s ahead/);
      // Half a move (a column without a rank) is malformed.
      const half = json(
        await ops('externalMember', [
          {
            kind: 'issue.update',
            opId: randomUUID(),
            issueId: issue.id,
            set: { status: issue.status },
          },
        ]),
      ) as Results;
      assert.equal(half.results[0]?.status, 'rejected');
      // An offline-created card with its own id and rank.
      const offlineId = randomUUID();
      const made = json(
        await ops('internalMember', [
          {
            kind: 'issue.create',
            opId: randomUUID(),
            hlc: hlcFor(alice, base + 3000),
            issueId: offlineId,
            set: { title: 'Made offline', status: issue.status, rank: 'a5' },
          },
          {
            kind: 'comment.add',
            opId: randomUUID(),
            issueId: offlineId,
            body: `Over to @${world.people.orgOwner.username} and @${world.people.unrelated.username}`,
          },
        ]),
      ) as Results;
      assert.deepEqual(
        made.results.map((r) => r.status),
        ['applied', 'applied'],
      );
      const detail = json(await call('internalMember', `/v1/issues/${offlineId}`)) as {
        comments: { mentions: string[] }[];
      };
      assert.deepEqual(
        detail.comments[0]?.mentions,
        [world.people.orgOwner.id],
        'only people who can see the project',
      );
    });

    it('links, search, saved views, export under policy, activity with proofs', async (t) => {
      const { server, world, create } = await setup(t, backend);
      const { call } = world;
      const a = await create('internalMember', {
        title: 'Alpha',
        labels: ['backend'],
        assignees: [world.people.internalMember.id],
      });
      const b = await create('internalMember', {
        title: 'Beta',
        labels: ['frontend'],
        dueDate: '2026-12-01',
      });
      const link = (from: string, to: string, kind: string) =>
        call('internalMember', `/v1/issues/${from}/links`, {
          method: 'POST',
          body: { to, link: kind },
        });
      assert.equal((await link(a.id, b.key, 'blocks')).status, 200);
      const cycle = await link(b.id, a.key, 'blocks');
      assert.match(
        ((json(cycle).result as { warnings?: string[] }).warnings ?? []).join(),
        /blocks cycle/,
      );
      // Another project's issue is not a link target here.
      const gx = json(
        await call('partnerAdmin', `/v1/orgs/${world.globex}/projects`, {
          method: 'POST',
          body: { key: 'GX', name: 'GX' },
        }),
      ).project as { id: string };
      const gxIssue = json(
        await call('partnerAdmin', `/v1/projects/${gx.id}/issues`, {
          method: 'POST',
          body: { set: { title: 'GX one' } },
        }),
      ).issue as Issue;
      assert.equal((await link(a.id, gxIssue.key, 'relates')).status, 400);
      assert.equal((await link(a.id, gxIssue.id, 'relates')).status, 400);

      const search = async (query: string) =>
        (
          json(await call('internalViewer', `/v1/projects/${world.apollo}/issues?${query}`)) as {
            issues: Issue[];
          }
        ).issues.map((i) => i.key);
      assert.deepEqual(await search('q=alp'), [a.key]);
      assert.deepEqual(await search('label=frontend'), [b.key]);
      assert.deepEqual(await search(`assignee=${world.people.internalMember.id}`), [a.key]);
      assert.deepEqual(await search('dueBefore=2026-12-31'), [b.key]);
      const view = await call('internalViewer', `/v1/projects/${world.apollo}/views`, {
        method: 'POST',
        body: { name: 'Frontend', filter: { label: 'frontend' } },
      });
      assert.equal(view.status, 201, view.body);
      const views = json(await call('internalViewer', `/v1/projects/${world.apollo}/views`)) as {
        views: { name: string }[];
      };
      assert.deepEqual(
        views.views.map((v) => v.name),
        ['Frontend'],
      );
      assert.deepEqual(
        (
          json(await call('internalMember', `/v1/projects/${world.apollo}/views`)) as {
            views: unknown[];
          }
        ).views,
        [],
        'views are per person',
      );

      // Export: JSON and CSV for internals; the default policy keeps externals from exporting.
      const exported = json(
        await call('internalMember', `/v1/projects/${world.apollo}/board/export`),
      ) as { issues: Issue[] };
      assert.equal(exported.issues.length, 3);
      await call('internalMember', `/v1/issues/${b.id}`, {
        method: 'PATCH',
        body: { set: { title: '=HYPERLINK("http://evil")' } },
      });
      const csv = await call(
        'internalMember',
        `/v1/projects/${world.apollo}/board/export?format=csv`,
      );
      assert.equal(csv.status, 200);
      assert.match(csv.body, /^key,title,status/);
      assert.match(csv.body, /"'=HYPERLINK\(""http:\/\/evil""\)"/, 'formulas are defused');
      assert.equal(
        codeOf(await call('externalMember', `/v1/projects/${world.apollo}/board/export`)),
        'policy_unsatisfied',
      );

      // Activity: the issue's entries, each proven against the signed head it comes with.
      const activity = json(await call('internalViewer', `/v1/issues/${a.id}/activity`)) as {
        entries: {
          seq: number;
          entry: { action: string; issue: string };
          leafHash: string;
          proof: { size: number; path: string[] };
        }[];
        checkpoint: string;
      };
      assert.ok(activity.entries.some((e) => e.entry.action === 'issue.create'));
      assert.ok(activity.entries.every((e) => e.entry.issue === a.key));
      const key = json(await call('internalViewer', '/v1/audit/key')) as {
        origin: string;
        verifierKey: string;
      };
      const head = verifyCheckpoint(
        activity.checkpoint,
        [Ed25519NoteVerifier.fromVerifierKey(key.verifierKey)],
        key.origin,
      ).checkpoint;
      for (const e of activity.entries) {
        const raw = await server.handle
          .storage()
          .db.selectFrom('audit_entries')
          .select('entry')
          .where('seq', '=', e.seq)
          .executeTakeFirstOrThrow();
        const leaf = leafHash(new TextEncoder().encode(raw.entry));
        assert.ok(
          verifyInclusion(leaf, e.seq, head.size, e.proof.path.map(fromHex), head.rootHash),
          `entry ${e.seq}`,
        );
      }
    });

    it('every change links to an issue when the project requires it', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      await givePasskey(server, world.people.orgOwner.id, 'adce0002-35bc-c60a-648b-0b25f1f05503');
      const required = await call('orgOwner', `/v1/projects/${world.apollo}/policy`, {
        method: 'PUT',
        body: { issueLinkRequired: true },
        headers: { 'bulwark-issue': 'APOLLO-1' },
      });
      assert.equal(required.status, 200, required.body);
      const rename = (headers: Record<string, string>) =>
        call('orgOwner', `/v1/projects/${world.apollo}`, {
          method: 'PATCH',
          body: { name: 'Apollo II' },
          headers,
        });
      const missing = await rename({});
      assert.equal(codeOf(missing), 'issue_link_required', missing.body);
      assert.equal(codeOf(await rename({ 'bulwark-issue': 'APOLLO-99' })), 'issue_link_invalid');
      assert.equal(codeOf(await rename({ 'bulwark-issue': 'GX-1' })), 'issue_link_invalid');
      assert.equal(codeOf(await rename({ 'bulwark-issue': 'not a key' })), 'issue_link_invalid');
      const project = json(await call('orgOwner', `/v1/projects/${world.apollo}`)).project as {
        name: string;
      };
      assert.equal(project.name, 'Apollo', 'nothing changed');
      const ok = await rename({ 'bulwark-issue': 'APOLLO-1' });
      assert.equal(ok.status, 200, ok.body);
      // The ledger entry carries the reference, and the issue's activity shows the change.
      const activity = json(await call('internalMember', `/v1/issues/${world.issue}/activity`)) as {
        entries: { entry: { action: string } }[];
      };
      assert.deepEqual(
        activity.entries.map((e) => e.entry.action).filter((a) => a.startsWith('project.')),
        ['project.policy.update', 'project.update'],
      );
      // Board edits cite their own issue and need no header.
      const edited = await call('internalMember', `/v1/issues/${world.issue}`, {
        method: 'PATCH',
        body: { set: { title: 'Renamed' } },
      });
      assert.equal(edited.status, 200, edited.body);
    });
  });
}
