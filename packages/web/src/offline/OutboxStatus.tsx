/**
 * In the shell's status bar: how many changes made on this device are still
 * waiting for the server, and a dialog listing them with what the person can
 * do about the ones the server refused. Nothing shows when all is sent.
 */
import { useState } from 'react';
import { Badge, Button, Dialog, ErrorNote, formatDate, useAction } from '../ui/components.tsx';
import { discardItem, flushOutbox, type OutboxItem, retryItem, useOutbox } from './outbox.ts';

const stateWords: Record<
  OutboxItem['state'],
  { text: string; tone: 'neutral' | 'info' | 'warning' | 'danger' }
> = {
  queued: { text: 'Waiting', tone: 'neutral' },
  sending: { text: 'Sending…', tone: 'info' },
  conflict: { text: 'Conflict', tone: 'warning' },
  failed: { text: 'Refused', tone: 'danger' },
};

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function OutboxStatus() {
  const items = useOutbox();
  const [open, setOpen] = useState(false);
  const held = items.filter((i) => i.state === 'conflict' || i.state === 'failed').length;
  const summary =
    items.length === 0
      ? ''
      : `${plural(items.length, 'change', 'changes')} waiting to be sent${
          held ? `, ${held} ${held === 1 ? 'needs' : 'need'} your decision` : ''
        }`;
  return (
    <>
      {/* Always present, so screen readers hear the count change (and "all sent"). */}
      <span className="visually-hidden" role="status">
        {summary}
      </span>
      {items.length > 0 ? (
        <Button
          variant="ghost"
          className="btn-small"
          aria-haspopup="dialog"
          onClick={() => setOpen(true)}
        >
          <Badge tone={held ? 'warning' : 'info'}>{summary}</Badge>
        </Button>
      ) : null}
      <Dialog
        open={open && items.length > 0}
        title="Changes waiting to be sent"
        onClose={() => setOpen(false)}
      >
        <OutboxList items={items} />
      </Dialog>
    </>
  );
}

function OutboxList({ items }: { items: OutboxItem[] }) {
  const send = useAction(flushOutbox);
  return (
    <>
      <p>
        These changes were made on this device. They are kept encrypted here and sent to the server
        in the order you made them, automatically, as soon as it can be reached.
      </p>
      <p className="muted">
        When the server refuses a change (someone else changed the same thing, or it is no longer
        allowed), it waits for you, and later changes to the same project wait behind it.{' '}
        <strong>Retry</strong> sends it again; <strong>Discard</strong> drops it for good.
      </p>
      <div className="btn-row">
        <Button onClick={() => void send.run()} busy={send.busy}>
          Send now
        </Button>
      </div>
      <ErrorNote error={send.error} />
      <ul className="list" aria-label="Waiting changes">
        {items.map((item) => (
          <OutboxRow key={item.id} item={item} />
        ))}
      </ul>
    </>
  );
}

function OutboxRow({ item }: { item: OutboxItem }) {
  const [confirming, setConfirming] = useState(false);
  const retry = useAction(retryItem);
  const discard = useAction(discardItem);
  const words = stateWords[item.state];
  const held = item.state === 'conflict' || item.state === 'failed';
  return (
    <li>
      <div>
        <div>
          <strong>{item.label}</strong> <Badge tone={words.tone}>{words.text}</Badge>
        </div>
        <div className="muted">
          Made {formatDate(item.createdAt)}
          {item.attempts > 0 ? ` · ${plural(item.attempts, 'attempt', 'attempts')}` : ''}
        </div>
        {item.problem ? <p className="field-error">{item.problem}</p> : null}
        <ErrorNote error={retry.error ?? discard.error} />
      </div>
      {held ? (
        <div className="btn-row">
          <Button
            onClick={() => void retry.run(item.id)}
            busy={retry.busy}
            aria-label={`Retry: ${item.label}`}
          >
            Retry
          </Button>
          {confirming ? (
            <>
              <Button
                variant="danger"
                onClick={() => void discard.run(item.id)}
                busy={discard.busy}
                aria-label={`Discard for good: ${item.label}`}
              >
                Discard for good
              </Button>
              <Button variant="ghost" onClick={() => setConfirming(false)}>
                Keep
              </Button>
            </>
          ) : (
            <Button onClick={() => setConfirming(true)} aria-label={`Discard: ${item.label}`}>
              Discard
            </Button>
          )}
        </div>
      ) : null}
    </li>
  );
}
