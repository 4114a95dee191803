import { createContent, type MessageBody, type MessageId, validateContent } from '@bulwark/crypto';
import { sha256Hex, toBase64Url } from './bytes.ts';
import { ChatError, type ConversationContext, sleep } from './conversation-state.ts';
import { backoffMs, maxAttempts, retryDecision } from './decisions.ts';
import { TransportError } from './errors.ts';
import { reconcileGroup } from './group-work.ts';
import { catchUp } from './incoming.ts';
import { engineErrorCode, type MlsEngine } from './mls-engine.ts';
import { applyContent } from './timeline.ts';

/** Own sends remembered for recognising their echo; older ones have long come back. */
const maxOwnSends = 1024;

/** Encrypts and posts one message; rebuilds it after losing a race with a commit. */
export async function sendMessage(
  cx: ConversationContext,
  body: MessageBody,
  messageId?: MessageId,
): Promise<{ messageId: string; seq: number | null }> {
  const { engine, http, events, self } = cx.deps;
  // Validated here: a body the recipients' decoder would refuse must not be sent.
  // A caller-chosen id makes a retried send (an offline outbox after a crash) idempotent:
  // receivers' timelines drop a repeated message id.
  const content =
    messageId === undefined
      ? createContent(body, cx.deps.now())
      : validateContent({ v: 1, id: messageId, sentAt: cx.deps.now().toISOString(), body });
  let lastError: unknown = null;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const record = await cx.state.load();
    if (record.pendingCommit) await catchUp(cx);
    let encrypted: Awaited<ReturnType<MlsEngine['encryptApplication']>>;
    try {
      encrypted = await engine.encryptApplication(await cx.state.group(), content);
    } catch (err) {
      // RFC 9420 §12.1: no application data while proposals (the server's Removes) wait.
      if (engineErrorCode(err) !== 'pending_proposals') throw err;
      lastError = err;
      await reconcileGroup(cx, true);
      continue;
    }
    const hash = sha256Hex(encrypted.message);
    await cx.state.setState(encrypted.state);
    record.ownSends = [...record.ownSends, { hash, content }].slice(-maxOwnSends);
    // Stored before posting: a ratchet generation used twice would reuse an AEAD nonce.
    await cx.state.save(false);
    let seq: number | null;
    try {
      ({ seq } = await http.postMessage(cx.id, toBase64Url(encrypted.message)));
    } catch (err) {
      lastError = err;
      const decision = retryDecision(err);
      // A lost answer may hide an accepted message: keep recognising its echo.
      if (!(err instanceof TransportError)) {
        record.ownSends = record.ownSends.filter((s) => s.hash !== hash);
        await cx.state.save(false);
      }
      if (decision === 'catch-up') {
        await catchUp(cx);
        continue;
      }
      if (decision === 'commit-removals') {
        await catchUp(cx);
        await reconcileGroup(cx, true);
        continue;
      }
      if (decision === 'backoff') {
        await sleep(backoffMs(attempt, cx.deps.random));
        continue;
      }
      throw err;
    }
    if (seq !== null) {
      if (record.processedSeq === seq - 1) {
        // Up to date: the server counts our own message as delivered and sends no echo.
        record.processedSeq = seq;
        record.ownSends = record.ownSends.filter((s) => s.hash !== hash);
      } else {
        record.ownSends = record.ownSends.map((s) => (s.hash === hash ? { ...s, seq } : s));
      }
    }
    const change = applyContent(await cx.state.loadTimeline(), content, self, seq);
    await cx.state.save(true);
    if (change.kind === 'added') {
      events.emit({
        type: 'message',
        conversation: cx.id,
        seq,
        sender: self,
        content,
        change: change.kind,
        own: true,
      });
    }
    return { messageId: content.id, seq };
  }
  throw new ChatError(
    'send_failed',
    `the message could not be sent after ${maxAttempts} attempts: ${(lastError as Error | null)?.message ?? 'unknown'}`,
  );
}
