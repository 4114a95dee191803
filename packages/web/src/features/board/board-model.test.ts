import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyOps,
  applyOpsToIssue,
  type Board,
  type BoardOp,
  ClientClock,
  commentOp,
  createOp,
  deleteOp,
  filterBoard,
  filterQuery,
  findIssue,
  type Issue,
  indexAmong,
  linkOp,
  matchesQuickFilter,
  moveInOrder,
  moveOp,
  nudgeOp,
  type OpFactory,
  orderOf,
  outcomeOf,
  parseHlc,
  parseLabels,
  pendingFromOutbox,
  rankForIndex,
  updateOp,
} from './board-model.ts';

const NODE = 'u1_tab';

function factory(start = 1_700_000_000_000): OpFactory & { clock: ClientClock } {
  let n = 0;
  let wall = start;
  const clock = new ClientClock(NODE, () => wall++);
  return {
    clock,
    opId: () => `op-${String(++n).padStart(6, '0')}`,
    hlc: () => clock.now(),
  };
}

function issue(id: string, status: string, rank: string, extra: Partial<Issue> = {}): Issue {
  return {
    id,
    projectId: 'p1',
    number: Number(id.replace(/\D/g, '')) || 1,
    key: `BUL-${id.replace(/\D/g, '') || '1'}`,
    title: `Issue ${id}`,
    description: '',
    status,
    rank,
    priority: null,
    labels: [],
    assignees: [],
    dueDate: null,
    estimate: null,
    checklist: [],
    clocks: {},
    createdBy: 'u1',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...extra,
  };
}

function board(): Board {
  return {
    project: { id: 'p1', key: 'BUL' },
    columns: [
      {
        id: 'todo',
        name: 'To do',
        rank: 'a0',
        wipLimit: null,
        count: 3,
        overWipLimit: false,
        issues: [issue('i1', 'todo', 'a0'), issue('i2', 'todo', 'a1'), issue('i3', 'todo', 'a2')],
      },
      {
        id: 'doing',
        name: 'In progress',
        rank: 'a1',
        wipLimit: 1,
        count: 1,
        overWipLimit: false,
        issues: [issue('i4', 'doing', 'a0')],
      },
      {
        id: 'done',
        name: 'Done',
        rank: 'a2',
        wipLimit: null,
        count: 0,
        overWipLimit: false,
        issues: [],
      },
    ],
  };
}

const ids = (b: Board, column: string) =>
  b.columns.find((c) => c.id === column)?.issues.map((i) => i.id);

describe('ClientClock', () => {
  it('stamps in the server format, strictly increasing even when the wall clock stalls', () => {
    const clock = new ClientClock(NODE, () => 1_700_000_000_000);
    const a = clock.now();
    const b = clock.now();
    assert.equal(a, `1700000000000-00000-${NODE}`);
    assert.equal(b, `1700000000000-00001-${NODE}`);
    assert.ok(b > a);
  });

  it('moves past a stamp it observed from the server', () => {
    const clock = new ClientClock(NODE, () => 1_000);
    clock.observe('1700000000000-00007-otheruser');
    const next = parseHlc(clock.now());
    assert.deepEqual(next, { wallMs: 1_700_000_000_000, counter: 8, node: NODE });
  });

  it('refuses a node id the server would refuse', () => {
    assert.throws(() => new ClientClock('has space'));
  });
});

describe('rankForIndex', () => {
  it('puts a rank between the neighbours', () => {
    const r = rankForIndex(['a0', 'a2'], 1);
    assert.ok(r > 'a0' && r < 'a2');
    assert.ok(rankForIndex(['a0'], 0) < 'a0');
    assert.ok(rankForIndex(['a0'], 1) > 'a0');
    assert.equal(typeof rankForIndex([], 0), 'string');
  });

  it('goes after a run of equal ranks instead of failing', () => {
    const r = rankForIndex(['a0', 'a0', 'a1'], 1);
    assert.ok(r > 'a0' && r < 'a1');
  });
});

describe('operations', () => {
  it('builds the server shapes', () => {
    const f = factory();
    const create = createOp(f, '11111111-1111-4111-8111-111111111111', {
      title: '  Fix login ',
      description: '',
    });
    assert.deepEqual(Object.keys(create).sort(), ['hlc', 'issueId', 'kind', 'opId', 'set']);
    assert.equal(create.kind, 'issue.create');
    assert.deepEqual(create.kind === 'issue.create' && create.set, { title: 'Fix login' });
    assert.match(create.hlc, /^\d{13}-\d{5}-u1_tab$/);
    const link = linkOp(f, 'i1', ' bul-7 ', 'blocks');
    assert.equal(link.kind === 'link.add' && link.to, 'BUL-7');
    const comment = commentOp(f, 'i1', 'hi');
    assert.equal(comment.kind, 'comment.add');
    assert.equal(deleteOp(f, 'i1').kind, 'issue.delete');
  });

  it('a move sets status and rank together', () => {
    const f = factory();
    const op = moveOp(f, board(), 'i1', 'done', 0);
    assert.ok(op && op.kind === 'issue.update');
    assert.deepEqual(Object.keys(op.set).sort(), ['rank', 'status']);
    assert.equal(op.set.status, 'done');
  });

  it('a move to where the card already is builds nothing', () => {
    assert.equal(moveOp(factory(), board(), 'i2', 'todo', 1), null);
    assert.equal(nudgeOp(factory(), board(), 'i1', -1), null);
  });
});

describe('applyOps (optimistic)', () => {
  it('moves a card between columns and adjusts counts and WIP flags', () => {
    const f = factory();
    const b = board();
    const op = moveOp(f, b, 'i1', 'doing', 1);
    assert.ok(op);
    const after = applyOps(b, [op]);
    assert.deepEqual(ids(after, 'todo'), ['i2', 'i3']);
    assert.deepEqual(ids(after, 'doing'), ['i4', 'i1']);
    const doing = after.columns[1];
    assert.equal(doing?.count, 2);
    assert.equal(doing?.overWipLimit, true);
    assert.equal(after.columns[0]?.count, 2);
    // the input is untouched
    assert.deepEqual(ids(b, 'todo'), ['i1', 'i2', 'i3']);
  });

  it('reorders within a column', () => {
    const f = factory();
    const b = board();
    const down = nudgeOp(f, b, 'i1', 1);
    assert.ok(down);
    assert.deepEqual(ids(applyOps(b, [down]), 'todo'), ['i2', 'i1', 'i3']);
    const top = moveOp(f, b, 'i3', 'todo', 0);
    assert.ok(top);
    assert.deepEqual(ids(applyOps(b, [top]), 'todo'), ['i3', 'i1', 'i2']);
  });

  it('creates a card at the bottom of the first column, without a key yet', () => {
    const f = factory();
    const after = applyOps(board(), [createOp(f, 'new1', { title: 'New thing' })], 'u1');
    assert.deepEqual(ids(after, 'todo'), ['i1', 'i2', 'i3', 'new1']);
    const made = findIssue(after, 'new1');
    assert.equal(made?.key, '');
    assert.equal(made?.title, 'New thing');
    assert.equal(made?.createdBy, 'u1');
  });

  it('updates fields and deletes cards', () => {
    const f = factory();
    const after = applyOps(board(), [
      updateOp(f, 'i2', { title: 'Renamed', labels: ['bug'], priority: 'high' }),
      deleteOp(f, 'i4'),
    ]);
    const i2 = findIssue(after, 'i2');
    assert.equal(i2?.title, 'Renamed');
    assert.deepEqual(i2?.labels, ['bug']);
    assert.equal(i2?.priority, 'high');
    assert.equal(findIssue(after, 'i4'), undefined);
    assert.equal(after.columns[1]?.count, 0);
  });

  it('does not show a write the server already overrode with a later stamp', () => {
    const b = board();
    const col = b.columns[0];
    if (!col) throw new Error('no column');
    col.issues[0] = issue('i1', 'todo', 'a0', {
      title: 'Theirs',
      clocks: { title: { hlc: `1800000000000-00000-u2`, opId: 'theirs-op' } },
    });
    const mine = updateOp(factory(), 'i1', { title: 'Mine', priority: 'low' });
    const after = findIssue(applyOps(b, [mine]), 'i1');
    assert.equal(after?.title, 'Theirs');
    assert.equal(after?.priority, 'low');
  });

  it('ignores edits of unknown issues and moves to unknown columns', () => {
    const f = factory();
    const b = board();
    assert.deepEqual(applyOps(b, [updateOp(f, 'nope', { title: 'x' })]), b);
    assert.deepEqual(applyOps(b, [updateOp(f, 'i1', { status: 'gone', rank: 'a5' })]), b);
  });

  it('applies to a single issue, and a delete empties it', () => {
    const f = factory();
    const one = issue('i1', 'todo', 'a0');
    assert.equal(
      applyOpsToIssue(one, [updateOp(f, 'i1', { dueDate: '2025-05-01' })])?.dueDate,
      '2025-05-01',
    );
    assert.equal(applyOpsToIssue(one, [deleteOp(f, 'i1')]), null);
    assert.equal(applyOpsToIssue(one, [deleteOp(f, 'other')]), one);
  });
});

describe('drag order', () => {
  it('moves within and across columns', () => {
    const order = orderOf(board());
    assert.deepEqual(moveInOrder(order, 'i1', 'i3').todo, ['i2', 'i3', 'i1']);
    const across = moveInOrder(order, 'i2', 'i4');
    assert.deepEqual(across.todo, ['i1', 'i3']);
    assert.deepEqual(across.doing, ['i2', 'i4']);
    const onColumn = moveInOrder(order, 'i2', 'done');
    assert.deepEqual(onColumn.done, ['i2']);
  });
});

describe('filters and labels', () => {
  it('parses labels and names the bad one', () => {
    assert.deepEqual(parseLabels('bug, needs-review bug').labels, ['bug', 'needs-review']);
    assert.equal(parseLabels('bug').problem, null);
    assert.match(parseLabels('ok, b@d').problem ?? '', /b@d/);
  });

  it('filters the board to search results, keeping cards not yet on the server', () => {
    const b = applyOps(board(), [createOp(factory(), 'new1', { title: 'x' })]);
    const shown = filterBoard(b, new Set(['i2']));
    assert.deepEqual(ids(shown, 'todo'), ['i2', 'new1']);
    assert.equal(filterBoard(b, null), b);
  });
});

describe('outbox view and outcomes', () => {
  it('splits queued and refused board ops of one project', () => {
    const f = factory();
    const a: BoardOp = updateOp(f, 'i1', { title: 'x' });
    const b: BoardOp = updateOp(f, 'i2', { title: 'y' });
    const view = pendingFromOutbox(
      [
        {
          kind: 'board.ops',
          scope: 'p1',
          state: 'queued',
          payload: { projectId: 'p1', ops: [a] },
          problem: null,
        },
        {
          kind: 'board.ops',
          scope: 'p1',
          state: 'conflict',
          payload: { projectId: 'p1', ops: [b] },
          problem: 'deleted',
        },
        {
          kind: 'board.ops',
          scope: 'p2',
          state: 'queued',
          payload: { projectId: 'p2', ops: [b] },
          problem: null,
        },
        { kind: 'chat.message', scope: 'p1', state: 'queued', payload: {}, problem: null },
      ],
      'p1',
    );
    assert.deepEqual(view.ops, [a]);
    assert.deepEqual([...view.queued], ['i1']);
    assert.equal(view.refused.get('i2'), 'deleted');
  });

  it('maps results: applied and duplicate are sent; refused and lost writes are conflicts', () => {
    const f = factory();
    const op = updateOp(f, 'i1', { title: 'x' });
    assert.deepEqual(outcomeOf([op], [{ opId: op.opId, status: 'duplicate', issueId: 'i1' }]), {
      status: 'sent',
    });
    const refused = outcomeOf(
      [op],
      [
        {
          opId: op.opId,
          status: 'rejected',
          issueId: 'i1',
          error: {
            code: 'conflict',
            message: 'That issue was deleted; the change was not applied.',
          },
        },
      ],
    );
    assert.equal(refused.status, 'conflict');
    assert.match(refused.status === 'conflict' ? refused.message : '', /was deleted/);
    const lost = outcomeOf(
      [op],
      [
        {
          opId: op.opId,
          status: 'applied',
          issueId: 'i1',
          conflicts: [{ field: 'title', value: 'x', hlc: op.hlc, opId: op.opId, lostTo: 'later' }],
        },
      ],
    );
    assert.equal(lost.status, 'conflict');
    assert.match(lost.status === 'conflict' ? lost.message : '', /title/);
  });
});

describe('quick filter and filtered drops', () => {
  it('matches like the server search and builds its query', () => {
    const one = issue('i1', 'todo', 'a0', {
      title: 'Login fails',
      labels: ['Bug'],
      assignees: ['u9'],
    });
    assert.equal(matchesQuickFilter(one, { q: 'login', label: '', assignee: '' }), true);
    assert.equal(matchesQuickFilter(one, { q: '', label: 'bug', assignee: 'u9' }), true);
    assert.equal(matchesQuickFilter(one, { q: '', label: '', assignee: 'u2' }), false);
    assert.equal(filterQuery({ q: ' a ', label: '', assignee: 'u9' }), 'q=a&assignee=u9&limit=500');
  });

  it('places a drop between its visible neighbours in the full column', () => {
    const all = ['a', 'b', 'c', 'd'];
    assert.equal(indexAmong(all, ['b', 'x', 'd'], 'x'), 2);
    assert.equal(indexAmong(all, ['x', 'd'], 'x'), 3);
    assert.equal(indexAmong(all, ['x'], 'x'), 4);
  });
});
