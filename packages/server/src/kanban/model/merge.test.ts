import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FIELD_GROUPS, type Field, GROUP_FIELDS, OperationError } from './fields.ts';
import { createHlc, formatHlc, HybridClock } from './hlc.ts';
import {
  applyOperation,
  applyOperations,
  type BoardState,
  columns,
  emptyBoard,
  issueFields,
  MAX_SEEN_OPS_PER_ISSUE,
  type Operation,
} from './merge.ts';
import { compareCards, rankForIndex } from './rank.ts';

const T0 = 1_750_000_000_000;

function stamp(ms: number, counter = 0, node = 'n'): string {
  return formatHlc(createHlc(T0 + ms, counter, node));
}

function op(opId: string, hlc: string, set: Operation['set'], issueId = 'i1'): Operation {
  return { opId, hlc, issueId, set };
}

describe('applyOperation', () => {
  it('creates an issue implicitly and applies the fields', () => {
    const r = applyOperation(
      emptyBoard(),
      op('o1', stamp(1), { title: 'Fix login', labels: ['bug'] }),
    );
    assert.deepEqual(r.applied, ['title', 'labels']);
    assert.deepEqual(r.lost, []);
    assert.equal(r.duplicate, false);
    const record = r.state.issues.get('i1');
    assert.ok(record);
    assert.equal(issueFields(record).title, 'Fix login');
    assert.deepEqual(issueFields(record).labels, ['bug']);
    assert.equal(issueFields(record).status, null);
  });

  it('the greater HLC wins, whichever arrives first, and the loser is reported', () => {
    const older = op('o1', stamp(1, 0, 'alice'), { title: 'Alice' });
    const newer = op('o2', stamp(1, 0, 'bob'), { title: 'Bob' }); // same time: node id decides
    const inOrder = applyOperation(applyOperation(emptyBoard(), older).state, newer);
    assert.deepEqual(inOrder.applied, ['title']);
    assert.deepEqual(inOrder.lost, [
      {
        field: 'title',
        value: 'Alice',
        hlc: older.hlc,
        opId: 'o1',
        lostTo: newer.hlc,
        lostToOpId: 'o2',
      },
    ]);
    const reversed = applyOperation(applyOperation(emptyBoard(), newer).state, older);
    assert.deepEqual(reversed.applied, []);
    assert.deepEqual(reversed.lost, inOrder.lost);
    assert.deepEqual(reversed.state, inOrder.state);
  });

  it('merges field by field', () => {
    const a = op('a', stamp(1), { title: 'A', priority: 'high' });
    const b = op('b', stamp(2), { title: 'B', estimate: 3 });
    const r = applyOperation(applyOperation(emptyBoard(), b).state, a);
    assert.deepEqual(r.applied, ['priority']);
    assert.deepEqual(
      r.lost.map((l) => l.field),
      ['title'],
    );
    const f = issueFields(r.state.issues.get('i1') as never);
    assert.deepEqual([f.title, f.priority, f.estimate], ['B', 'high', 3]);
  });

  it('a move is one unit: a losing move is reported whole and never half-applied', () => {
    const moveA = op('a', stamp(1), { status: 'doing', rank: 'a0' });
    const moveB = op('b', stamp(2), { status: 'done', rank: 'a5' });
    const r = applyOperation(applyOperation(emptyBoard(), moveB).state, moveA);
    assert.deepEqual(r.applied, []);
    assert.deepEqual(r.lost, [
      {
        field: 'position',
        value: { status: 'doing', rank: 'a0' },
        hlc: moveA.hlc,
        opId: 'a',
        lostTo: moveB.hlc,
        lostToOpId: 'b',
      },
    ]);
    const won = applyOperation(applyOperation(emptyBoard(), moveA).state, moveB);
    assert.deepEqual(won.applied, ['status', 'rank']);
    assert.deepEqual(columns(won.state), new Map([['done', ['i1']]]));
  });

  it('reports a loser even when it equals the winner (the UI may hide it)', () => {
    const a = op('a', stamp(1, 0, 'alice'), { priority: 'high', title: 'x' });
    const b = op('b', stamp(1, 0, 'bob'), { priority: 'high', title: 'y' });
    const r = applyOperation(applyOperation(emptyBoard(), a).state, b);
    assert.deepEqual(r.applied, ['title', 'priority']);
    assert.deepEqual(
      r.lost.map((l) => [l.field, l.value]),
      [
        ['title', 'x'],
        ['priority', 'high'],
      ],
    );
  });

  it('a duplicate op changes nothing and reports nothing', () => {
    const a = op('a', stamp(1), { title: 'A' });
    const b = op('b', stamp(2), { title: 'B' });
    const once = applyOperations(emptyBoard(), [a, b]);
    const again = applyOperation(once, a);
    assert.equal(again.state, once);
    assert.deepEqual([again.applied, again.lost, again.duplicate], [[], [], true]);
  });

  it('refuses a reused op id with another timestamp', () => {
    const state = applyOperation(emptyBoard(), op('a', stamp(1), { title: 'A' })).state;
    assert.throws(
      () => applyOperation(state, op('a', stamp(2), { title: 'B' })),
      (e: unknown) => e instanceof OperationError && e.code === 'op-id-reused',
    );
  });

  it('refuses malformed ops without touching the state', () => {
    const state = emptyBoard();
    const bad: unknown[] = [
      null,
      { ...op('a', stamp(1), {}), opId: '' },
      { ...op('a', stamp(1), {}), issueId: 'x'.repeat(129) },
      { ...op('a', stamp(1), {}), hlc: `${T0}-0-n` },
      op('a', stamp(1), { title: 'ok', status: 'todo' }), // half a move
      op('a', stamp(1), { title: 'ok', estimate: 'lots' }),
    ];
    for (const candidate of bad) {
      assert.throws(() => applyOperation(state, candidate as Operation), OperationError);
    }
    assert.equal(state.issues.size, 0);
  });

  it('does not share mutable values with the op', () => {
    const labels = ['bug'];
    const state = applyOperation(emptyBoard(), op('a', stamp(1), { labels })).state;
    labels.push('oops');
    assert.deepEqual(issueFields(state.issues.get('i1') as never).labels, ['bug']);
  });

  it('remembers a bounded number of op ids, and a forgotten redelivered op still changes nothing', () => {
    const ops = Array.from({ length: MAX_SEEN_OPS_PER_ISSUE + 10 }, (_, i) =>
      op(`o${i}`, stamp(i), { title: `t${i}`, estimate: i }),
    );
    const state = applyOperations(emptyBoard(), ops);
    const record = state.issues.get('i1');
    assert.equal(record?.seenOps.size, MAX_SEEN_OPS_PER_ISSUE);
    assert.equal(record?.seenOps.has('o0'), false, 'the oldest are forgotten');
    const redelivered = applyOperation(state, ops[0] as Operation);
    assert.equal(redelivered.duplicate, false);
    assert.deepEqual(redelivered.applied, []);
    assert.deepEqual(redelivered.state, state);
    // The newest is remembered.
    assert.equal(applyOperation(state, ops.at(-1) as Operation).duplicate, true);
  });
});

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

const ISSUES = ['i1', 'i2', 'i3'] as const;
const COLUMNS = ['todo', 'doing', 'done'] as const;
const LABELS = ['bug', 'ux', 'infra'] as const;

/** The writes a simulated user makes; moves are resolved against the local view. */
const editArb = fc.oneof(
  fc.record({ kind: fc.constant('title' as const), text: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.record({ kind: fc.constant('labels' as const), labels: fc.subarray([...LABELS]) }),
  fc.record({
    kind: fc.constant('priority' as const),
    priority: fc.constantFrom(null, 'low', 'high'),
  }),
  // Moves are where ordering bugs hide: make them the most frequent edit.
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('move' as const),
      column: fc.constantFrom(...COLUMNS),
      index: fc.nat(5),
      alsoTitle: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
    }),
  },
  fc.record({
    kind: fc.constant('checklist' as const),
    done: fc.boolean(),
  }),
);

const commandArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      client: fc.nat(2),
      issue: fc.constantFrom(...ISSUES),
      edit: editArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      // 0 is the server, 1..3 the clients.
      to: fc.nat(3),
      pick: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('time' as const),
      client: fc.nat(2),
      // Real time moves forward; a client's wall clock may jump back.
      elapse: fc.nat(3_000),
      skew: fc.integer({ min: -4_000, max: 4_000 }),
    }),
  },
);

interface Replica {
  readonly node: string;
  readonly clock: HybridClock;
  skewMs: number;
  state: BoardState;
  seq: number;
}

type Edit = typeof editArb extends fc.Arbitrary<infer T> ? T : never;

/** What a client's UI would send for an edit, given its current view. */
function makeSet(replica: Replica, issueId: string, edit: Edit): Operation['set'] {
  switch (edit.kind) {
    case 'title':
      return { title: `${edit.text}-${replica.node}` };
    case 'labels':
      return { labels: edit.labels };
    case 'priority':
      return { priority: edit.priority };
    case 'checklist':
      return { checklist: [{ id: 'c1', text: 'check', done: edit.done }] };
    case 'move': {
      // Drop the card at `index` of the column as this replica sees it.
      const others = (columns(replica.state).get(edit.column) ?? []).filter((id) => id !== issueId);
      const ranks = others.map(
        (id) => issueFields(replica.state.issues.get(id) as never).rank as string,
      );
      const rank = rankForIndex(ranks, Math.min(edit.index, ranks.length));
      return edit.alsoTitle === undefined
        ? { status: edit.column, rank }
        : { status: edit.column, rank, title: edit.alsoTitle };
    }
  }
}

/** Receipt of an op by a replica: merge the clock (as the server must), then the op. */
function deliver(replica: Replica, operation: Operation): void {
  replica.clock.receive(operation.hlc);
  replica.state = applyOperation(replica.state, operation).state;
}

/** The winner per (issue, group) by (hlc, opId): the LWW oracle. */
function expectedWinners(ops: readonly Operation[]): Map<string, Operation> {
  const winners = new Map<string, Operation>();
  for (const o of ops) {
    for (const group of FIELD_GROUPS) {
      if (!GROUP_FIELDS[group].some((f) => o.set[f] !== undefined)) continue;
      const key = `${o.issueId}/${group}`;
      const current = winners.get(key);
      if (
        current === undefined ||
        o.hlc > current.hlc ||
        (o.hlc === current.hlc && o.opId > current.opId)
      ) {
        winners.set(key, o);
      }
    }
  }
  return winners;
}

function assertLww(state: BoardState, ops: readonly Operation[]): void {
  const winners = expectedWinners(ops);
  for (const issueId of new Set(ops.map((o) => o.issueId))) {
    const record = state.issues.get(issueId);
    assert.ok(record, `issue ${issueId} exists`);
    const fields = issueFields(record);
    for (const group of FIELD_GROUPS) {
      const winner = winners.get(`${issueId}/${group}`);
      const register: { hlc: string; opId: string } | undefined = record.registers[group];
      if (winner === undefined) {
        assert.equal(register, undefined, `${issueId}.${group} never set`);
        continue;
      }
      assert.equal(register?.hlc, winner.hlc, `${issueId}.${group} hlc`);
      assert.equal(register?.opId, winner.opId, `${issueId}.${group} opId`);
      // Both halves of a move come from the same op.
      for (const field of GROUP_FIELDS[group]) {
        assert.deepEqual(fields[field as Field], winner.set[field], `${issueId}.${field}`);
      }
    }
  }
}

function assertBoardWellFormed(state: BoardState): void {
  const placed = [...state.issues.values()].filter((r) => r.registers.position !== undefined);
  const shown = [...columns(state).values()].flat();
  assert.equal(shown.length, placed.length, 'every placed card is shown once');
  assert.equal(new Set(shown).size, shown.length, 'no card appears twice');
  for (const [status, ids] of columns(state)) {
    const cards = ids.map((id) => ({
      id,
      rank: issueFields(state.issues.get(id) as never).rank as string,
    }));
    for (let i = 1; i < cards.length; i++) {
      assert.ok(compareCards(cards[i - 1] as never, cards[i] as never) < 0, `order in ${status}`);
    }
  }
}

describe('merge properties', () => {
  it('property: clients editing offline converge with the server under any delivery order, with duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(commandArb, { minLength: 1, maxLength: 60, size: 'max' }),
        fc.gen(),
        (commands, g) => {
          let realMs = T0;
          const replicas: Replica[] = ['server', 'c1', 'c2', 'c3'].map((node, i) => {
            const replica: Replica = {
              node,
              skewMs: i === 0 ? 0 : (i - 2) * 2_000,
              state: emptyBoard(),
              seq: 0,
              clock: new HybridClock({ node, wallClock: () => realMs + replica.skewMs }),
            };
            return replica;
          });
          const ops: Operation[] = [];

          for (const command of commands) {
            if (command.kind === 'time') {
              realMs += command.elapse;
              (replicas[command.client + 1] as Replica).skewMs = command.skew;
            } else if (command.kind === 'edit') {
              const client = replicas[command.client + 1] as Replica;
              const operation: Operation = {
                opId: `${client.node}-${client.seq++}`,
                hlc: formatHlc(client.clock.now()),
                issueId: command.issue,
                set: makeSet(client, command.issue, command.edit),
              };
              ops.push(operation);
              // Optimistic local apply, as the offline client does.
              client.state = applyOperation(client.state, operation).state;
            } else if (ops.length > 0) {
              // Partial, out-of-order, possibly repeated delivery while editing.
              deliver(replicas[command.to] as Replica, ops[command.pick % ops.length] as Operation);
            }
          }

          // Eventually everyone receives everything: a permutation of all ops
          // with some repeated (at-least-once delivery), per replica.
          for (const replica of replicas) {
            const repeats = g(fc.array, fc.nat({ max: Math.max(0, ops.length - 1) }), {
              maxLength: ops.length,
            });
            const stream = [
              ...ops,
              ...(ops.length > 0 ? repeats.map((i) => ops[i] as Operation) : []),
            ];
            const order = g(fc.shuffledSubarray<Operation>, stream, {
              minLength: stream.length,
              maxLength: stream.length,
            });
            for (const o of order) deliver(replica, o);
          }

          const server = replicas[0] as Replica;
          for (const replica of replicas) {
            assert.deepEqual(replica.state, server.state, `${replica.node} equals the server`);
            assert.deepEqual(columns(replica.state), columns(server.state));
            assertBoardWellFormed(replica.state);
          }
          assert.deepEqual(
            [...server.state.issues.keys()].sort(),
            [...new Set(ops.map((o) => o.issueId))].sort(),
            'no issue lost, none invented',
          );
          assertLww(server.state, ops);
        },
      ),
      { numRuns: 200 },
    );
  });

  // Ops with arbitrary (possibly equal) timestamps, for order-independence.
  const anyOpArb = fc.record({
    opId: fc.stringMatching(/^[a-f0-9]{1,3}$/),
    hlc: fc
      .record({
        ms: fc.nat(3),
        counter: fc.nat(2),
        node: fc.constantFrom('a', 'b', 'a-b'),
      })
      .map(({ ms, counter, node }) => stamp(ms, counter, node)),
    issueId: fc.constantFrom('i1', 'i2'),
    set: fc.oneof(
      fc.record({ title: fc.constantFrom('x', 'y', 'z') }),
      fc.record({
        status: fc.constantFrom('todo', 'done'),
        rank: fc.constantFrom('a0', 'a1', 'Zz'),
      }),
      fc
        .record(
          {
            title: fc.constantFrom('x', 'y'),
            estimate: fc.option(fc.nat(5), { nil: null }),
            labels: fc.subarray([...LABELS]),
            status: fc.constantFrom('todo', 'done'),
            rank: fc.constantFrom('a0', 'a1'),
          },
          { requiredKeys: [] },
        )
        .map((set) => {
          // A move is both or neither.
          if ((set.status === undefined) !== (set.rank === undefined)) {
            const { status: _s, rank: _r, ...rest } = set;
            return rest;
          }
          return set;
        }),
    ),
  });
  // One content per op id: ids are unique per op (the server enforces it).
  const opsArb: fc.Arbitrary<Operation[]> = fc.uniqueArray(
    anyOpArb.map((o): Operation => o),
    { selector: (o) => o.opId, maxLength: 25 },
  );

  it('property: LWW — each field holds the value of the greatest-HLC write, in any order', () => {
    fc.assert(
      fc.property(
        opsArb.chain((ops) =>
          fc.tuple(fc.constant(ops), fc.shuffledSubarray(ops, { minLength: ops.length })),
        ),
        ([ops, shuffled]) => {
          const a = applyOperations(emptyBoard(), ops);
          const b = applyOperations(emptyBoard(), shuffled);
          assert.deepEqual(a, b);
          assertLww(a, ops);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('property: applying an op twice is applying it once', () => {
    fc.assert(
      fc.property(
        opsArb.filter((ops) => ops.length > 0),
        fc.nat(),
        fc.nat(),
        (ops, which, where) => {
          const once = applyOperations(emptyBoard(), ops);
          const dup = ops[which % ops.length] as Operation;
          // Re-apply at the end: nothing changes, nothing reported.
          const again = applyOperation(once, dup);
          assert.equal(again.state, once);
          assert.deepEqual([again.applied, again.lost, again.duplicate], [[], [], true]);
          // Or repeated anywhere in the stream.
          const withDup = [...ops];
          withDup.splice(where % (ops.length + 1), 0, dup);
          assert.deepEqual(applyOperations(emptyBoard(), withDup), once);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: every write but the winner is reported lost exactly once, in any order', () => {
    // So the server's record of conflicts does not depend on arrival order.
    fc.assert(
      fc.property(
        opsArb.chain((ops) =>
          fc.tuple(fc.constant(ops), fc.shuffledSubarray(ops, { minLength: ops.length })),
        ),
        ([ops, shuffled]) => {
          const reported = (order: readonly Operation[]) => {
            let state = emptyBoard();
            const keys: string[] = [];
            for (const o of order) {
              const r = applyOperation(state, o);
              state = r.state;
              for (const l of r.lost) keys.push(`${l.opId}/${l.field}`);
            }
            return keys.sort();
          };
          const winners = expectedWinners(ops);
          const losers: string[] = [];
          for (const o of ops) {
            for (const group of FIELD_GROUPS) {
              if (!GROUP_FIELDS[group].some((f) => o.set[f] !== undefined)) continue;
              if (winners.get(`${o.issueId}/${group}`) !== o) losers.push(`${o.opId}/${group}`);
            }
          }
          assert.deepEqual(reported(ops), losers.sort());
          assert.deepEqual(reported(shuffled), losers);
        },
      ),
      { numRuns: 300 },
    );
  });
});
