import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS, OperationError, parseSet } from './fields.ts';

function refused(set: unknown, code: string, field?: string) {
  assert.throws(
    () => parseSet(set),
    (e: unknown) =>
      e instanceof OperationError && e.code === code && (field === undefined || e.field === field),
    JSON.stringify(set),
  );
}

describe('issue field validation', () => {
  it('groups status and rank into one position', () => {
    assert.deepEqual(parseSet({ status: 'todo', rank: 'a0', title: 'x' }), {
      title: 'x',
      position: { status: 'todo', rank: 'a0' },
    });
  });

  it('refuses half a move', () => {
    refused({ status: 'todo' }, 'partial-position', 'rank');
    refused({ rank: 'a0' }, 'partial-position', 'status');
    refused({ rank: 'a0', status: undefined }, 'partial-position', 'status');
  });

  it('refuses unknown fields, including prototype tricks', () => {
    refused({ titel: 'x' }, 'unknown-field');
    refused(JSON.parse('{"__proto__": {"title": "x"}}'), 'unknown-field');
    refused({ constructor: 'x' }, 'unknown-field');
    refused([], 'malformed');
    refused(null, 'malformed');
    refused(new Map(), 'malformed');
  });

  it('ignores keys set to undefined', () => {
    assert.deepEqual(parseSet({ title: undefined, estimate: 3 }), { estimate: 3 });
  });

  it('checks every value', () => {
    refused({ title: 5 }, 'invalid-value', 'title');
    refused({ title: 'x'.repeat(LIMITS.titleLength + 1) }, 'invalid-value', 'title');
    refused({ description: null }, 'invalid-value', 'description');
    refused({ status: 'to do', rank: 'a0' }, 'invalid-value', 'status');
    refused({ status: 'todo', rank: 'a0'.padEnd(65, 'V') }, 'invalid-value', 'rank');
    refused({ status: 'todo', rank: 'a10' }, 'invalid-value', 'rank');
    refused({ priority: '' }, 'invalid-value', 'priority');
    refused({ labels: 'bug' }, 'invalid-value', 'labels');
    refused({ labels: ['bug', 'bug'] }, 'invalid-value', 'labels');
    refused({ assignees: Array.from({ length: 101 }, (_, i) => `u${i}`) }, 'invalid-value');
    refused({ dueDate: '2025-02-30' }, 'invalid-value', 'dueDate');
    refused({ dueDate: '2025-2-3' }, 'invalid-value', 'dueDate');
    refused({ estimate: -1 }, 'invalid-value', 'estimate');
    refused({ estimate: Number.NaN }, 'invalid-value', 'estimate');
    refused({ checklist: [{ id: 'a', text: 'x' }] }, 'invalid-value', 'checklist');
    refused({ checklist: [{ id: 'a', text: 'x', done: false, extra: 1 }] }, 'invalid-value');
    refused(
      {
        checklist: [
          { id: 'a', text: 'x', done: false },
          { id: 'a', text: 'y', done: true },
        ],
      },
      'invalid-value',
    );
  });

  it('accepts and copies good values, frozen', () => {
    const labels = ['bug', 'ux'];
    const item = { done: true, text: 'write tests', id: 'c1' };
    const writes = parseSet({
      labels,
      checklist: [item],
      dueDate: '2024-02-29',
      priority: null,
      estimate: 0,
    });
    labels.push('mutated');
    item.text = 'mutated';
    assert.deepEqual(writes.labels, ['bug', 'ux']);
    assert.deepEqual(writes.checklist, [{ id: 'c1', text: 'write tests', done: true }]);
    assert.equal(writes.dueDate, '2024-02-29');
    assert.equal(writes.priority, null);
    assert.ok(Object.isFrozen(writes.labels) && Object.isFrozen(writes.checklist?.[0]));
  });
});
