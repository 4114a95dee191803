import { fromBase64Url, sha256Hex, toBase64Url } from './bytes.ts';
import { ChatError, type ConversationContext, sleep } from './conversation-state.ts';
import { backoffMs, maxAttempts, retryDecision } from './decisions.ts';
import type { Member } from './device-store.ts';
import { ApiError, TransportError } from './errors.ts';
import type { MessagingHttp } from './http.ts';
import { catchUp } from './incoming.ts';
import type { CommitResult } from './mls-engine.ts';

/**
 * The group work a conversation view asks for: establish the group, add the
 * devices that are missing, commit the server's pending removals. Runs on
 * the conversation's chain (conversation.ts).
 */

/** The wait per rank before a member does group work others may do (see reconcileGroup). */
const staggerMs = 300;

/**
 * Every member is told about missing devices and pending removals at the
 * same time; if all acted at once, all but one commit would lose the race,
 * and every loser would have burnt a key package of each added device.
 * So members wait in leaf order (the lowest leaf acts at once, the next
 * after `staggerMs`, …) and look again before acting: usually one acts.
 */
export async function reconcileGroup(cx: ConversationContext, immediate: boolean): Promise<void> {
  const { engine, http, self, identity, events } = cx.deps;
  for (let round = 0; round < maxAttempts; round++) {
    const record = await cx.state.load();
    let view = await http.conversation(cx.id);
    const joined = record.groupState !== null && !record.removed;
    // Process what the log holds first (pending Remove proposals among it), and look again
    // if that changed anything.
    if (joined && view.epoch !== null && (await catchUp(cx))) {
      view = await http.conversation(cx.id);
    }
    await cx.state.remember(view);
    if (view.epoch === null) {
      if (!view.missing.some((m) => m.deviceId === self.deviceId)) return;
      const created = await engine.createGroup({
        groupId: fromBase64Url(view.groupId),
        suite: view.ciphersuite,
        identity,
        self,
        externalSender: fromBase64Url(view.externalSender),
        auth: cx.state.auth,
      });
      // Stored before it is posted: if the server takes it and this process dies, the device
      // still holds leaf 0 of the group it created (no Welcome would ever bring it back).
      await cx.state.setState(created.state);
      record.removed = false;
      record.pendingCommit = null;
      record.ownSends = [];
      record.joinedEpoch = record.epoch;
      await cx.state.save(false);
      try {
        await http.establishGroup(cx.id, toBase64Url(created.groupInfo));
      } catch (err) {
        if (!(err instanceof TransportError)) {
          await cx.state.setState(null);
          record.epoch = null;
          record.joinedEpoch = null;
          await cx.state.save(false);
        }
        // Another device established it first: ours is discarded, a Welcome will come.
        if (retryDecision(err) === 'await-welcome') return;
        throw err;
      }
      events.emit({ type: 'joined', conversation: cx.id, epoch: record.epoch ?? 0 });
      continue;
    }
    if (!joined) {
      // Whoever adds us needs a key package in the group's suite (post-quantum orgs).
      if (view.missing.some((m) => m.deviceId === self.deviceId)) {
        await cx.deps.stockSuite(view.ciphersuite);
      }
      return;
    }
    if (record.pendingCommit) {
      // Caught up and the server is still at our epoch: the commit was not taken.
      if (view.epoch !== record.epoch) return;
      record.pendingCommit = null;
      await cx.state.save(false);
    }
    if (record.epoch !== view.epoch) return; // the socket will bring the rest
    const rank = view.roster
      .map((r) => r.leaf)
      .sort((x, y) => x - y)
      .indexOf(view.roster.find((r) => r.deviceId === self.deviceId)?.leaf ?? -1);
    if (rank < 0) return;
    const work =
      view.pendingRemovals.length > 0 || view.missing.some((m) => m.deviceId !== self.deviceId);
    if (!work) return;
    if (!immediate && rank > 0) {
      cx.later(Math.min(rank, 20) * staggerMs + cx.deps.random() * 100);
      return;
    }
    let outcome: 'posted' | 'conflict' | 'stop';
    if (view.pendingRemovals.length > 0) {
      const removed = view.pendingRemovals.map((p) => ({
        deviceId: p.deviceId,
        userId: view.roster.find((r) => r.deviceId === p.deviceId)?.userId ?? 'unknown',
      }));
      outcome = await postCommit(
        cx,
        await engine.commitPending(await cx.state.group()),
        [],
        removed,
      );
    } else {
      const missing = view.missing.filter((m) => m.deviceId !== self.deviceId);
      if (missing.length === 0) return;
      outcome = await addMissing(cx, missing);
    }
    if (outcome === 'stop') return;
    if (outcome === 'conflict') await sleep(backoffMs(round, cx.deps.random));
  }
}

/**
 * Commits a fresh UpdatePath (and any pending server proposals): the
 * post-compromise "heal" — whoever copied this device's keys cannot follow
 * into the next epoch. Rebases and retries when another commit wins.
 */
export async function updateOwnKeys(cx: ConversationContext): Promise<number> {
  const { engine } = cx.deps;
  for (let round = 0; round < maxAttempts; round++) {
    await catchUp(cx);
    const record = await cx.state.load();
    if (record.groupState === null || record.removed) {
      throw new ChatError('not_member', 'this device is not in the conversation’s group');
    }
    const outcome = await postCommit(
      cx,
      await engine.commitPending(await cx.state.group()),
      [],
      [],
    );
    if (outcome === 'posted') return (await cx.state.load()).epoch ?? 0;
    if (outcome === 'stop') break;
    await sleep(backoffMs(round, cx.deps.random));
  }
  throw new ChatError('commit_failed', 'could not commit a key update; try again later');
}

async function addMissing(
  cx: ConversationContext,
  missing: Member[],
): Promise<'posted' | 'conflict' | 'stop'> {
  const { http, engine, events } = cx.deps;
  let claimed: Awaited<ReturnType<MessagingHttp['claimKeyPackages']>>;
  try {
    claimed = await http.claimKeyPackages(
      cx.id,
      missing.map((m) => m.deviceId),
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'key_packages_exhausted') {
      events.emit({
        type: 'warning',
        conversation: cx.id,
        kind: 'key-packages-exhausted',
        message: `cannot add ${missing.length} device(s) yet: ${err.message}`,
      });
      return 'stop';
    }
    throw err;
  }
  // Only what was asked for, for whom it was asked; the engine checks each credential too.
  const wanted = new Map(missing.map((m) => [m.deviceId, m.userId]));
  const add = claimed
    .filter((k) => wanted.get(k.deviceId) === k.userId)
    .map((k) => ({
      member: { userId: k.userId, deviceId: k.deviceId },
      keyPackage: fromBase64Url(k.keyPackage),
    }));
  if (add.length === 0) return 'stop';
  const result = await engine.addMembers(await cx.state.group(), add);
  return postCommit(
    cx,
    result,
    add.map((a) => a.member),
    [],
  );
}

/**
 * Posts a commit. The state it leads to is stored as pending *before* the
 * post: if the server takes it and this process dies, the delivery of the
 * commit can still be adopted (a member cannot process its own commit).
 */
export async function postCommit(
  cx: ConversationContext,
  result: CommitResult & { welcome?: Uint8Array },
  added: Member[],
  removed: Member[],
): Promise<'posted' | 'conflict' | 'stop'> {
  const record = await cx.state.load();
  const { engine, http } = cx.deps;
  record.pendingCommit = {
    hash: sha256Hex(result.commit),
    groupState: toBase64Url(await engine.serializeState(result.state)),
    epoch: engine.epoch(result.state),
    added,
    removed,
  };
  await cx.state.save(false);
  try {
    await http.postCommit(cx.id, {
      commit: toBase64Url(result.commit),
      groupInfo: toBase64Url(result.groupInfo),
      ...(result.welcome ? { welcome: toBase64Url(result.welcome) } : {}),
    });
  } catch (err) {
    const decision = retryDecision(err);
    // The answer was lost, not the commit: it may have been taken. Keep it pending;
    // the next catch-up adopts it or a rival's commit voids it.
    if (err instanceof TransportError) return 'stop';
    record.pendingCommit = null;
    await cx.state.save(false);
    if (decision === 'catch-up' || decision === 'commit-removals') return 'conflict';
    if (decision === 'backoff') return 'stop';
    throw err;
  }
  // Our own commit comes back through the log; catching up adopts it now.
  await catchUp(cx);
  return 'posted';
}
