import { randomUUID } from 'node:crypto';
import {
  claimKeyPackagesBodySchema,
  commitBodySchema,
  createConversationBodySchema,
  establishGroupBodySchema,
  mlsCiphersuites,
  sendMessageBodySchema,
} from '@bulwark/protocol';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { authzOf, scopeProject, uuid } from '../../directory/routes/shared.ts';
import { directoryChange } from '../../directory/transaction.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf } from '../../identity/actor.ts';
import { PolicyStore } from '../../policy/policy-store.ts';
import { effectiveProjectRole } from '../../policy/relation.ts';
import { Storage } from '../../storage/storage.ts';
import { type Conversation, ConversationStore } from '../conversations.ts';
import { acceptCommit, establishGroup } from '../handshake.ts';
import { ConversationLog } from '../log.ts';
import { type MessagingRouteDeps, sessionDevice } from './context.ts';

// Not strict: the attachment route's params hold its attachmentId too.
const conversationParams = z.object({ conversationId: uuid('a conversation') });
const attachmentParams = z
  .object({ conversationId: uuid('a conversation'), attachmentId: uuid('an attachment') })
  .strict();
const logQuery = z
  .object({
    after: z.coerce.number().int().nonnegative().default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

export function registerConversationRoutes(deps: MessagingRouteDeps) {
  const { messaging } = deps;

  /** The conversation the guard resolved, or 404 for a direct one the caller is not in. */
  const conversationOf = async (req: FastifyRequest): Promise<Conversation> => {
    const { conversationId } = conversationParams.parse(req.params);
    const c = await new ConversationStore(messaging.storage()).get(conversationId);
    if (!c || !messaging.canSee(c, actorOf(req).userId)) {
      throw new BulwarkError('not_found', 'No such conversation.');
    }
    return c;
  };

  const handshakeContext = async (tx: Parameters<Parameters<typeof directoryChange>[2]>[0]) => ({
    tx,
    mls: messaging.mls,
    serverKey: (await messaging.externalSender()).publicKey,
    now: messaging.now(),
  });

  /** A new conversation and its ledger entry (what kind, and for direct ones, whose). */
  const create = (req: FastifyRequest, input: Parameters<ConversationStore['create']>[0]) =>
    directoryChange(deps, req, async (tx) => {
      const c = await new ConversationStore(tx.storage).create(input, messaging.now());
      await tx.record({
        action: 'messaging.conversation.create',
        target: { type: 'conversation', id: c.id },
        after: { kind: c.kind, participants: c.participants },
      });
      return c;
    });

  return (app: App): void => {
    app.post(
      '/v1/projects/:projectId/conversations',
      { config: { action: 'conversation.create' } },
      async (req, reply) => {
        const body = createConversationBodySchema.parse(req.body);
        const projectId = scopeProject(req);
        const me = actorOf(req).userId;
        const { relation } = authzOf(req);
        const { effective } = await new PolicyStore(messaging.storage()).effectiveForProject(
          projectId,
        );
        const ciphersuite = mlsCiphersuites[effective.e2eeCiphersuite === 'post-quantum' ? 1 : 0];
        if (body.kind === 'channel') {
          if (relation.projectRole === null || relation.projectRole === 'viewer') {
            throw new BulwarkError(
              'forbidden',
              'Viewers take part in channels but do not create them.',
            );
          }
          const conversation = await create(req, {
            projectId,
            kind: 'channel',
            name: body.name,
            participants: null,
            ciphersuite,
            createdBy: me,
          });
          return reply.status(201).send({ conversation: await messaging.view(conversation) });
        }
        if (body.userId === me)
          throw new BulwarkError('bad_request', 'A direct conversation is with someone else.');
        const storage = messaging.storage();
        if ((await effectiveProjectRole(storage, body.userId, projectId)) === null) {
          throw new BulwarkError('not_found', 'No such user in this project.');
        }
        const existing = await new ConversationStore(storage).findDirect(
          projectId,
          me,
          body.userId,
        );
        if (existing)
          return reply.status(200).send({ conversation: await messaging.view(existing) });
        const conversation = await create(req, {
          projectId,
          kind: 'direct',
          name: null,
          participants: [me, body.userId],
          ciphersuite,
          createdBy: me,
        }).catch(async (err) => {
          // Both people opened it at once: the unique key let one through; answer with it.
          const again = await new ConversationStore(storage).findDirect(projectId, me, body.userId);
          if (again) return again;
          throw err;
        });
        return reply.status(201).send({ conversation: await messaging.view(conversation) });
      },
    );

    app.get(
      '/v1/projects/:projectId/conversations',
      { config: { action: 'conversation.list' } },
      async (req) => {
        const me = actorOf(req).userId;
        const list = await new ConversationStore(messaging.storage()).listForProject(
          scopeProject(req),
        );
        const visible = list.filter((c) => messaging.canSee(c, me));
        return { conversations: await Promise.all(visible.map((c) => messaging.view(c))) };
      },
    );

    app.get(
      '/v1/messaging/conversations',
      { config: { action: 'messaging.conversations.list' } },
      async (req) => {
        const list = await messaging.conversationsOfUser(actorOf(req).userId);
        return { conversations: await Promise.all(list.map((c) => messaging.view(c))) };
      },
    );

    app.get(
      '/v1/conversations/:conversationId',
      { config: { action: 'conversation.read' } },
      async (req) => ({ conversation: await messaging.view(await conversationOf(req)) }),
    );

    app.post(
      '/v1/conversations/:conversationId/group',
      { config: { action: 'conversation.participate' } },
      async (req) => {
        const conversation = await conversationOf(req);
        const device = await sessionDevice(deps, req);
        const { groupInfo } = establishGroupBodySchema.parse(req.body);
        await directoryChange(deps, req, async (tx) =>
          establishGroup(await handshakeContext(tx), conversation, device, groupInfo),
        );
        const after = (await new ConversationStore(messaging.storage()).get(
          conversation.id,
        )) as Conversation;
        // Others entitled to it are now "missing": the new member adds them.
        await messaging.signalMembers(after);
        return { conversation: await messaging.view(after) };
      },
    );

    app.post(
      '/v1/conversations/:conversationId/key-packages/claim',
      { config: { action: 'conversation.participate' } },
      async (req) => {
        const conversation = await conversationOf(req);
        const device = await sessionDevice(deps, req);
        if (!conversation.roster.includes(device.id)) {
          throw new BulwarkError('forbidden', 'Only a member device of the group adds others.');
        }
        const { devices } = claimKeyPackagesBodySchema.parse(req.body);
        const outer = messaging.storage();
        const claimed = await outer.db
          .transaction()
          .execute(async (trx) =>
            messaging.claim(new Storage(trx, outer.backend, outer.fields), conversation, devices),
          );
        // A device with nothing left (or none in this suite) is told, so it uploads some;
        // the upload then wakes the members again (device-routes.ts).
        for (const id of claimed.exhausted) {
          await messaging.signalDevice(id, {
            v: 1,
            type: 'conversation',
            conversation: conversation.id,
          });
        }
        return claimed;
      },
    );

    app.post(
      '/v1/conversations/:conversationId/commits',
      { config: { action: 'conversation.participate' }, bodyLimit: 12 * 1024 * 1024 },
      async (req) => {
        const conversation = await conversationOf(req);
        const device = await sessionDevice(deps, req);
        const body = commitBodySchema.parse(req.body);
        const outcome = await directoryChange(deps, req, async (tx) =>
          acceptCommit(await handshakeContext(tx), conversation, device, body),
        );
        await messaging.signalConversation(conversation.id, outcome.seq, device.id);
        for (const a of outcome.added) {
          await messaging.signalDevice(a.deviceId, {
            v: 1,
            type: 'welcome',
            conversation: conversation.id,
          });
        }
        for (const r of outcome.removed) {
          await messaging.signalDevice(r.deviceId, {
            v: 1,
            type: 'conversation',
            conversation: conversation.id,
          });
        }
        // Removals that raced this commit are proposed again for the new epoch.
        await messaging.reconcile(conversation.id);
        return { seq: outcome.seq, epoch: outcome.epoch };
      },
    );

    app.post(
      '/v1/conversations/:conversationId/messages',
      { config: { action: 'conversation.participate' }, bodyLimit: 512 * 1024 },
      async (req) => {
        const conversation = await conversationOf(req);
        if (conversation.kind === 'channel' && authzOf(req).relation.projectRole === 'viewer') {
          throw new BulwarkError('forbidden', 'Viewers read channels but do not post in them.');
        }
        const device = await sessionDevice(deps, req);
        const { message } = sendMessageBodySchema.parse(req.body);
        const outer = messaging.storage();
        const result = await outer.db.transaction().execute(async (trx) => {
          const storage = new Storage(trx, outer.backend, outer.fields);
          return messaging.post({ storage, record: async () => {} }, conversation, device, message);
        });
        if (!result.duplicate)
          await messaging.signalConversation(conversation.id, result.seq, device.id);
        return result;
      },
    );

    app.get(
      '/v1/conversations/:conversationId/messages',
      { config: { action: 'conversation.read' } },
      async (req) => {
        const conversation = await conversationOf(req);
        const device = await sessionDevice(deps, req);
        const { after, limit } = logQuery.parse(req.query);
        const log = new ConversationLog(messaging.storage());
        const cursor = await log.cursor(device.id, conversation.id);
        if (!cursor)
          throw new BulwarkError('forbidden', 'This device was never a member of the group.');
        // Nothing from before the device joined, nothing after it was removed.
        const from = Math.max(after, cursor.joinedSeq);
        return { deliveries: await log.range(conversation.id, from, limit, cursor.removedSeq) };
      },
    );

    app.post(
      '/v1/conversations/:conversationId/attachments',
      { config: { action: 'conversation.participate' }, bodyLimit: 101 * 1024 * 1024 },
      async (req, reply) => {
        const conversation = await conversationOf(req);
        const device = await sessionDevice(deps, req);
        if (!conversation.roster.includes(device.id)) {
          throw new BulwarkError(
            'forbidden',
            'This device is not a member of the conversation’s group.',
          );
        }
        if (!Buffer.isBuffer(req.body)) {
          throw new BulwarkError(
            'unsupported_media_type',
            'Send the encrypted attachment as application/octet-stream.',
          );
        }
        const data = req.body;
        const limit = await attachmentLimit(conversation.projectId);
        if (data.length === 0) throw new BulwarkError('bad_request', 'The attachment is empty.');
        if (data.length > limit) {
          throw new BulwarkError(
            'payload_too_large',
            `Attachments here are at most ${limit} bytes; this one is ${data.length}.`,
          );
        }
        const id = randomUUID();
        await messaging
          .storage()
          .db.insertInto('conversation_attachments')
          .values({
            id,
            conversation_id: conversation.id,
            data: data.toString('base64url'),
            size: data.length,
            created_at: messaging.now().toISOString(),
          })
          .execute();
        return reply.status(201).send({ attachment: { id, size: data.length } });
      },
    );

    app.get(
      '/v1/conversations/:conversationId/attachments/:attachmentId',
      { config: { action: 'conversation.read' } },
      async (req, reply) => {
        const { attachmentId } = attachmentParams.parse(req.params);
        const conversation = await conversationOf(req);
        const row = await messaging
          .storage()
          .db.selectFrom('conversation_attachments')
          .select('data')
          .where('id', '=', attachmentId)
          .where('conversation_id', '=', conversation.id)
          .executeTakeFirst();
        if (!row) throw new BulwarkError('not_found', 'No such attachment.');
        return reply
          .header('content-type', 'application/octet-stream')
          .send(Buffer.from(row.data, 'base64url'));
      },
    );
  };

  async function attachmentLimit(projectId: string): Promise<number> {
    const { effective } = await new PolicyStore(messaging.storage()).effectiveForProject(projectId);
    return effective.attachmentMaxMB * 1024 * 1024;
  }
}
