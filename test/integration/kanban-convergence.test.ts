/**
 * The server against the merge model (issue: "any sequence of moves from
 * several clients, applied in any order the network may produce, ends in
 * the same board on every client and on the server"): random offline edits
 * and moves from two clients reach the real server in a random order, with
 * duplicates; the server's board must equal the model's (last writer by
 * clock, per field, column and rank together), with no card lost or doubled.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatHlc, HybridClock } from '../../packages/server/src/kanban/model/hlc.ts';
import { compareCards } from '../../packages/server/src/kanban/model/rank.ts';
import { buildWorld, type Persona } from '../support/directory-world.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

type Issue = { id: string; title: string; priority: string | null; status: string; rank: string };
type Board = { columns: { id: string; issues: Issue[] }[] };
type Op = {
  kind: 'issue.update';
  opId: string;
  hlc: string;
  issueId: string;
  set: Record<string, unknown>;
};

const RANKS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'];
const clients: Persona[] = ['internalMember', 'externalMember'];

const editArb = fc.record({
  client: fc.nat(1),
  issue: fc.nat(2),
  change: fc.oneof(
    fc.record({ title: fc.constantFrom('one', 'two', 'three') }),
    fc.record({ priority: fc.constantFrom(null, 'low', 'high') }),
    fc.record({ column: fc.nat(3), rank: fc.constantFrom(...RANKS) }),
  ),
});

describe('kanban convergence against the real server', () => {
  it('any delivery order, with duplicates, ends in the model’s board', async (t) => {
    const server = await startTestServer(t, { dataDir: tempDir(t) });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'convergence passphrase' },
    });
    const world = await buildWorld(server);
    const boardUrl = `/v1/projects/${world.apollo}/board?perColumn=200`;
    const columnIds = ((await world.call('internalMember', boardUrl)).json as Board).columns.map(
      (c) => c.id,
    );

    await fc.assert(
      fc.asyncProperty(
        fc.array(editArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        async (edits, duplicates, shuffle) => {
          // Fresh cards for each run, created online (stamped by the server before any edit).
          const ids: string[] = [];
          for (const title of ['x', 'y', 'z']) {
            const made = await world.call('internalMember', `/v1/projects/${world.apollo}/issues`, {
              method: 'POST',
              body: { set: { title } },
            });
            assert.equal(made.status, 201, made.body);
            ids.push((made.json as { issue: { id: string } }).issue.id);
          }
          // Each client edits offline with its own clock.
          const clocks = clients.map((c) => new HybridClock({ node: world.people[c].id }));
          const ops: { who: Persona; op: Op }[] = edits.map((e) => {
            const set =
              'column' in e.change
                ? { status: columnIds[e.change.column], rank: e.change.rank }
                : e.change;
            const who = clients[e.client] as Persona;
            const hlc = formatHlc((clocks[e.client] as HybridClock).now());
            return {
              who,
              op: {
                kind: 'issue.update',
                opId: randomUUID(),
                hlc,
                issueId: ids[e.issue] as string,
                set,
              },
            };
          });
          // The network: any order, some ops twice.
          const delivery = [
            ...ops,
            ...duplicates.map((d) => ops[d % ops.length] as (typeof ops)[number]),
          ];
          const order = delivery.map((d, i) => ({ d, key: shuffle.next().value as number, i }));
          order.sort((a, b) => a.key - b.key || a.i - b.i);
          for (const { d } of order) {
            const answer = await world.call(d.who, `/v1/projects/${world.apollo}/ops`, {
              method: 'POST',
              body: { ops: [d.op] },
            });
            assert.equal(answer.status, 200, answer.body);
            const status = (answer.json as { results: { status: string }[] }).results[0]?.status;
            assert.ok(status === 'applied' || status === 'duplicate', answer.body);
          }

          // The model: per field group, the write with the greatest (hlc, opId).
          const board = (await world.call('internalMember', boardUrl)).json as Board;
          const cards = board.columns.flatMap((c) => c.issues).filter((i) => ids.includes(i.id));
          assert.deepEqual(
            cards.map((c) => c.id).sort(),
            [...ids].sort(),
            'no card lost or doubled',
          );
          for (const id of ids) {
            const mine = ops.map((o) => o.op).filter((o) => o.issueId === id);
            const last = (pick: (o: Op) => boolean) =>
              mine
                .filter(pick)
                .sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : a.opId < b.opId ? -1 : 1))
                .at(-1);
            const card = cards.find((c) => c.id === id) as Issue;
            const title = last((o) => 'title' in o.set);
            if (title) assert.equal(card.title, title.set.title);
            const priority = last((o) => 'priority' in o.set);
            if (priority) assert.equal(card.priority, priority.set.priority);
            const move = last((o) => 'status' in o.set);
            if (move) assert.deepEqual([card.status, card.rank], [move.set.status, move.set.rank]);
          }
          // Every column lists its cards in (rank, id) order.
          for (const column of board.columns) {
            assert.deepEqual(
              column.issues.map((i) => i.id),
              [...column.issues].sort(compareCards).map((i) => i.id),
            );
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
