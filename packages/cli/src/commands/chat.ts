import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { asMessageId, type MessageBody } from '@bulwark/crypto';
import type { Command } from 'commander';
import { renderConversation, renderDevice } from '../chat/render.ts';
import { CliError, type Session, writeJson } from '../context.ts';
import { registerChatLogin } from './chat-login.ts';
import { withChat } from './chat-session.ts';
import { registerChatTail } from './chat-tail.ts';

interface JsonOption {
  json?: boolean;
}

/** `bulwark chat <verb>`: end-to-end encrypted messaging from the terminal. */
export function registerChat(program: Command, session: Session): void {
  const chat = program
    .command('chat')
    .summary('end-to-end encrypted channels and direct messages')
    .description(
      'End-to-end encrypted messaging (MLS). This terminal is a device of your account: its ' +
        'identity key and encryption state live in the state directory, and the server never ' +
        'sees message content. Start with `bulwark chat login`.',
    )
    .option(
      '--state-dir <dir>',
      'where the login and this device are kept (default $XDG_CONFIG_HOME/bulwark/chat, ' +
        'else ~/.config/bulwark/chat); keep it private, it holds the device keys',
    );
  registerChatLogin(chat, session);

  chat
    .command('conversations')
    .summary('list your channels and direct conversations')
    .option('--project <id>', 'only this project')
    .option('--json', 'print them as JSON')
    .action((opts: JsonOption & { project?: string }, cmd: Command) =>
      withChat(session, cmd, opts, async ({ client, config }) => {
        const list = await client.conversations(opts.project);
        if (session.json) return writeJson(session.io, { conversations: list });
        if (list.length === 0) session.io.stderr.write('no conversations yet\n');
        for (const c of list) session.io.stdout.write(`${renderConversation(c, config.userId)}\n`);
      }),
    );

  const channel = chat.command('channel').summary('channels of a project');
  channel
    .command('create <name>')
    .summary('create a channel in a project (every project member is added)')
    .requiredOption('--project <id>', 'the project')
    .option('--json', 'print the conversation as JSON')
    .action((name: string, opts: JsonOption & { project: string }, cmd: Command) =>
      withChat(session, cmd, opts, async ({ client, config }) => {
        const view = await client.createChannel(opts.project, name);
        const now = await client.conversation(view.id);
        if (session.json) return writeJson(session.io, { conversation: now });
        session.io.stdout.write(`${renderConversation(now, config.userId)}\n`);
      }),
    );

  chat
    .command('dm <userId>')
    .summary('open the direct conversation with someone in a project')
    .requiredOption('--project <id>', 'a project you share')
    .option('--json', 'print the conversation as JSON')
    .action((userId: string, opts: JsonOption & { project: string }, cmd: Command) =>
      withChat(session, cmd, opts, async ({ client, config }) => {
        const view = await client.openDirect(opts.project, userId);
        const now = await client.conversation(view.id);
        if (session.json) return writeJson(session.io, { conversation: now });
        session.io.stdout.write(`${renderConversation(now, config.userId)}\n`);
      }),
    );

  chat
    .command('send <conversationId> [text...]')
    .summary('send a message (or a file) and wait until the server has it')
    .option('--reply-to <messageId>', 'answer this message')
    .option('--file <path>', 'send this file as an encrypted attachment')
    .option('--media-type <type>', 'media type of --file', 'application/octet-stream')
    .option('--json', 'print the message id and position as JSON')
    .action(
      (
        conversationId: string,
        words: string[],
        opts: JsonOption & { replyTo?: string; file?: string; mediaType: string },
        cmd: Command,
      ) =>
        withChat(session, cmd, opts, async ({ client }) => {
          const text = words.join(' ');
          if (text === '' && opts.file === undefined) {
            throw new CliError('give the text to send, or --file');
          }
          // Only this conversation matters here; the socket still brings (and acks) the rest.
          await client.connect({ syncAll: false });
          let sent: { messageId: string; seq: number | null };
          if (opts.file !== undefined) {
            const path = resolve(session.io.cwd, opts.file);
            const bytes = new Uint8Array(await readFile(path));
            sent = await client.sendAttachment(conversationId, bytes, {
              name: basename(path),
              mediaType: opts.mediaType,
              ...(text === '' ? {} : { text }),
            });
          } else {
            const body: MessageBody = opts.replyTo
              ? { kind: 'reply', to: asMessageId(opts.replyTo), text }
              : { kind: 'text', text };
            sent = await client.send(conversationId, body);
          }
          if (session.json) return writeJson(session.io, sent);
          session.io.stderr.write(
            `sent${sent.seq === null ? '' : ` (position ${sent.seq})`}: ${sent.messageId}\n`,
          );
        }),
    );

  registerChatTail(chat, session);

  chat
    .command('devices [userId]')
    .summary("list a user's devices and their key fingerprints (default: yours)")
    .option('--json', 'print them as JSON')
    .action((userId: string | undefined, opts: JsonOption, cmd: Command) =>
      withChat(session, cmd, opts, async ({ client, device }) => {
        const list = await client.devices(userId);
        if (session.json) return writeJson(session.io, { devices: list });
        for (const d of list) session.io.stdout.write(`${renderDevice(d, device.deviceId)}\n`);
      }),
    );

  chat
    .command('verify-device <deviceId>')
    .summary('vouch, from this device, for another device of yours')
    .description(
      "Signs the other device's identity key with this one. Compare its fingerprint (shown on " +
        'that device by `bulwark chat devices`) before you do: this is what makes it active.',
    )
    .action((deviceId: string, _opts: unknown, cmd: Command) =>
      withChat(session, cmd, {}, async ({ client }) => {
        await client.verifyDevice(deviceId);
        session.io.stderr.write(`device ${deviceId} verified\n`);
      }),
    );

  chat
    .command('revoke-device <deviceId>')
    .summary('revoke one of your devices: it is removed from every conversation')
    .action((deviceId: string, _opts: unknown, cmd: Command) =>
      withChat(session, cmd, {}, async ({ client }) => {
        await client.revokeDevice(deviceId);
        session.io.stderr.write(`device ${deviceId} revoked\n`);
      }),
    );

  chat
    .command('safety-number <userId>')
    .summary('the number to compare with someone to rule out a man in the middle')
    .description(
      "Computed over both users' device identity keys; it changes whenever either of you adds, " +
        'loses or replaces a device. Compare it in person or over a channel you trust.',
    )
    .option('--json', 'print it as JSON')
    .action((userId: string, opts: JsonOption, cmd: Command) =>
      withChat(session, cmd, opts, async ({ client }) => {
        const number = await client.safetyNumber(userId);
        if (session.json) return writeJson(session.io, { userId, safetyNumber: number });
        session.io.stdout.write(`${number}\n`);
      }),
    );
}
