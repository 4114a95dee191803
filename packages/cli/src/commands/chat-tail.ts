import { type ChatEvent, timelineItems } from '@bulwark/chat';
import type { Command } from 'commander';
import { renderEvent, renderItem } from '../chat/render.ts';
import { CliError, type Session } from '../context.ts';
import { withChat } from './chat-session.ts';

interface TailOptions {
  history: string;
  json?: boolean;
}

export function registerChatTail(chat: Command, session: Session): void {
  chat
    .command('tail <conversationId>')
    .summary('show a conversation and follow it until Ctrl-C')
    .description(
      'Prints the last messages this device has stored, then every message, edit, deletion and ' +
        'reaction as it arrives, with notices (members added or removed, a changed device key, ' +
        'a message that could not be decrypted). Runs until Ctrl-C.',
    )
    .option('--history <n>', 'how many stored messages to show first', '20')
    .option('--json', 'one JSON object per line: stored items, then live events')
    .action((conversationId: string, opts: TailOptions, cmd: Command) =>
      withChat(session, cmd, {}, async ({ client, config }) => {
        const { io } = session;
        const history = Number.parseInt(opts.history, 10);
        if (!Number.isSafeInteger(history) || history < 0) {
          throw new CliError('--history must be a whole number');
        }
        const line = (value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);
        const items = timelineItems(await client.timeline(conversationId));
        for (const item of history === 0 ? [] : items.slice(-history)) {
          if (opts.json) line({ stored: item });
          else io.stdout.write(`${renderItem(item, config.userId)}\n`);
        }

        let fail: (err: Error) => void = () => {};
        const stopped = new Promise<void>((resolve, reject) => {
          fail = reject;
          process.once('SIGINT', () => resolve());
        });
        const off = client.on((event: ChatEvent) => {
          if (opts.json) {
            if (!('conversation' in event) || event.conversation === conversationId) line(event);
          } else {
            const text = renderEvent(event, conversationId, config.userId);
            if (text !== null) io.stdout.write(`${text}\n`);
          }
          if (event.type === 'error' && event.fatal)
            fail(new CliError(event.message, 1, event.code));
        });
        try {
          await client.connect();
          await client.sync(conversationId);
          if (!opts.json) io.stderr.write('(following; Ctrl-C to stop)\n');
          await stopped;
        } finally {
          off();
        }
      }),
    );
}
