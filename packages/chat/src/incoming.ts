import type { Delivery, WelcomeDelivery } from '@bulwark/protocol';
import { fromBase64Url, sha256Hex } from './bytes.ts';
import type { ConversationContext } from './conversation-state.ts';
import { classifyDelivery, failureDisposition, splitHeld } from './decisions.ts';
import { postCommit } from './group-work.ts';
import type { MlsEngine } from './mls-engine.ts';
import { addNotice, applyContent } from './timeline.ts';

/**
 * What arrives for a conversation: deliveries from the log (socket or
 * catch-up) and Welcomes. Runs on the conversation's chain (conversation.ts).
 */

/** Deliveries held while waiting for a Welcome (the server stops at its window anyway). */
const maxHeld = 4096;
const catchUpPage = 500;

/** One delivery, in log order: repeats dropped, own echoes recognised, the rest decrypted. */
export async function processDelivery(cx: ConversationContext, delivery: Delivery): Promise<void> {
  const record = await cx.state.load();
  const data = fromBase64Url(delivery.data);
  const decision = classifyDelivery(record, delivery, sha256Hex(data));
  const { events, self } = cx.deps;
  let timelineChanged = false;
  switch (decision.action) {
    case 'duplicate':
      if (record.processedSeq > 0) cx.deps.ack(cx.id, record.processedSeq);
      return;
    case 'hold':
      if (cx.state.held.size < maxHeld) cx.state.held.set(delivery.seq, delivery);
      return;
    case 'skip':
      break;
    case 'own-commit': {
      const pending = record.pendingCommit;
      if (!pending) break;
      cx.state.forgetGroup();
      record.groupState = pending.groupState;
      record.epoch = pending.epoch;
      record.pendingCommit = null;
      timelineChanged = await cx.state.membershipNotice(
        delivery.seq,
        pending.added,
        pending.removed,
      );
      events.emit({
        type: 'membership',
        conversation: cx.id,
        epoch: pending.epoch,
        added: pending.added,
        removed: pending.removed,
        selfRemoved: false,
      });
      break;
    }
    case 'own-message': {
      const [own] = record.ownSends.splice(decision.index, 1);
      if (own) {
        // Normally already in the timeline (added when the server accepted it); this gives it its seq.
        const change = applyContent(await cx.state.loadTimeline(), own.content, self, delivery.seq);
        timelineChanged = true;
        if (change.kind === 'added') {
          events.emit({
            type: 'message',
            conversation: cx.id,
            seq: delivery.seq,
            sender: self,
            content: own.content,
            change: 'added',
            own: true,
          });
        }
      }
      break;
    }
    case 'process':
      timelineChanged = await processIncoming(cx, delivery, data);
      break;
  }
  record.processedSeq = delivery.seq;
  // Own messages at or before this position can no longer come back.
  if (record.ownSends.some((s) => s.seq !== undefined && s.seq <= delivery.seq)) {
    record.ownSends = record.ownSends.filter((s) => s.seq === undefined || s.seq > delivery.seq);
  }
  await cx.state.save(timelineChanged);
  cx.deps.ack(cx.id, delivery.seq);
  events.emit({ type: 'processed', conversation: cx.id, seq: delivery.seq });
}

/** Returns whether the timeline changed. */
async function processIncoming(
  cx: ConversationContext,
  delivery: Delivery,
  data: Uint8Array,
): Promise<boolean> {
  const record = await cx.state.load();
  const { engine, events } = cx.deps;
  // Sent before this device was in the group (e.g. the commit that added it): never ours to read.
  if (record.joinedEpoch !== null && delivery.epoch < record.joinedEpoch) return false;
  let result: Awaited<ReturnType<MlsEngine['processIncoming']>>;
  try {
    result = await engine.processIncoming(await cx.state.group(), data);
  } catch (err) {
    const disposition = failureDisposition(delivery.epoch, record.epoch, err);
    // A commit we could not process still ended the epoch our pending commit was for.
    if (delivery.kind === 'commit') record.pendingCommit = null;
    const what = delivery.kind === 'application' ? 'A message' : `A ${delivery.kind}`;
    const text = `${what} (position ${delivery.seq}, epoch ${delivery.epoch}) could not be decrypted`;
    addNotice(await cx.state.loadTimeline(), {
      kind: 'undecryptable',
      seq: delivery.seq,
      at: delivery.sentAt,
      text,
    });
    events.emit({ type: 'warning', conversation: cx.id, kind: 'undecryptable', message: text });
    if (disposition === 'out-of-step') {
      events.emit({
        type: 'error',
        conversation: cx.id,
        code: 'out_of_step',
        message: `${text}: ${(err as Error).message}`,
        fatal: false,
      });
    }
    return true;
  }
  await cx.state.setState(result.state);
  const event = result.event;
  switch (event.kind) {
    case 'application': {
      const change = applyContent(
        await cx.state.loadTimeline(),
        event.content,
        event.sender,
        delivery.seq,
      );
      if (change.kind === 'ignored') {
        events.emit({
          type: 'warning',
          conversation: cx.id,
          kind: 'ignored-content',
          message: change.reason,
          userId: event.sender.userId,
          deviceId: event.sender.deviceId,
        });
      } else if (change.kind !== 'duplicate') {
        events.emit({
          type: 'message',
          conversation: cx.id,
          seq: delivery.seq,
          sender: event.sender,
          content: event.content,
          change: change.kind,
          own: false,
        });
      }
      return change.kind !== 'duplicate';
    }
    case 'invalid-content': {
      const text = `A message from ${event.sender.userId} (device ${event.sender.deviceId}) was not valid content: ${event.reason}`;
      addNotice(await cx.state.loadTimeline(), {
        kind: 'undecryptable',
        seq: delivery.seq,
        at: delivery.sentAt,
        text,
        ...event.sender,
      });
      events.emit({
        type: 'warning',
        conversation: cx.id,
        kind: 'ignored-content',
        message: text,
        ...event.sender,
      });
      return true;
    }
    case 'commit': {
      // Someone else's commit won this epoch: ours (if any) is void.
      record.pendingCommit = null;
      let changed = false;
      if (event.selfRemoved) {
        record.removed = true;
        await cx.state.setState(null);
        addNotice(await cx.state.loadTimeline(), {
          kind: 'removed',
          seq: delivery.seq,
          at: delivery.sentAt,
          text: 'This device was removed from the conversation',
        });
        changed = true;
      } else {
        changed = await cx.state.membershipNotice(delivery.seq, event.added, event.removed);
      }
      events.emit({
        type: 'membership',
        conversation: cx.id,
        epoch: event.epoch,
        added: event.added,
        removed: event.removed,
        selfRemoved: event.selfRemoved,
      });
      return changed;
    }
    case 'proposal':
      // The server's Remove proposals wait for a member to commit them.
      cx.queueReconcile();
      return false;
  }
}

/** Joins the group from a Welcome, then processes what was held for it. */
export async function processWelcome(
  cx: ConversationContext,
  welcome: WelcomeDelivery,
): Promise<void> {
  const record = await cx.state.load();
  const { engine, store, events } = cx.deps;
  if (
    record.groupState !== null &&
    !record.removed &&
    record.epoch !== null &&
    record.epoch >= welcome.epoch
  ) {
    cx.deps.ackWelcome(welcome.id);
    return;
  }
  // The view names the server's external-sender key, which the group must carry.
  await cx.state.remember(await cx.deps.http.conversation(cx.id));
  const keyPackages = await store.loadKeyPackages();
  let joined: Awaited<ReturnType<MlsEngine['joinFromWelcome']>>;
  try {
    joined = await engine.joinFromWelcome(
      fromBase64Url(welcome.data),
      keyPackages.map((k) => ({ ref: k.ref, privateKey: k.privateKey })),
      cx.state.auth,
    );
  } catch (err) {
    // Not acknowledged: the server offers it again on the next connection.
    events.emit({
      type: 'error',
      conversation: cx.id,
      code: 'join_failed',
      message: `could not join from the Welcome: ${(err as Error).message}`,
      fatal: false,
    });
    return;
  }
  await cx.state.setState(joined.state);
  record.removed = false;
  record.pendingCommit = null;
  record.ownSends = [];
  record.joinedEpoch = record.epoch;
  const joinedEpoch = record.epoch ?? welcome.epoch;
  const used = keyPackages.find((k) => k.ref === joined.used);
  if (used && !used.lastResort) {
    await store.saveKeyPackages(keyPackages.filter((k) => k !== used));
    cx.deps.keyPackageUsed();
  }
  const { before, after } = splitHeld([...cx.state.held.values()], joinedEpoch);
  cx.state.held.clear();
  for (const d of before) record.processedSeq = Math.max(record.processedSeq, d.seq);
  addNotice(await cx.state.loadTimeline(), {
    kind: 'membership',
    seq: null,
    at: cx.deps.now().toISOString(),
    text: 'This device joined the conversation',
  });
  await cx.state.save(true);
  if (record.processedSeq > 0) cx.deps.ack(cx.id, record.processedSeq);
  cx.deps.ackWelcome(welcome.id);
  events.emit({ type: 'joined', conversation: cx.id, epoch: joinedEpoch });
  for (const d of after) await processDelivery(cx, d);
  if (used?.lastResort) {
    // The last-resort package may be handed out again: replace the leaf keys it gave us now.
    try {
      await postCommit(cx, await engine.commitPending(await cx.state.group()), [], []);
    } catch (err) {
      cx.reportError(err);
    }
  }
  cx.queueReconcile();
}

/**
 * Processes what the log holds after our position, over HTTP: the socket
 * may not have delivered it yet. Later socket copies are then repeats.
 * Returns whether anything was processed.
 */
export async function catchUp(cx: ConversationContext): Promise<boolean> {
  let any = false;
  for (;;) {
    const record = await cx.state.load();
    if (record.groupState === null || record.removed) return any;
    const page = await cx.deps.http.messagesAfter(cx.id, record.processedSeq, catchUpPage);
    for (const d of page) {
      any = true;
      await processDelivery(cx, { ...d, conversation: cx.id });
    }
    if (page.length < catchUpPage) return any;
  }
}
