import { MessagingHttp } from '@bulwark/chat';
import type { Command } from 'commander';
import {
  type ChatConfig,
  defaultDeviceName,
  resolveStateDir,
  saveConfig,
} from '../chat/cli-state.ts';
import { httpsFetch } from '../chat/https-fetch.ts';
import { loginWithPassword } from '../chat/login.ts';
import { CliError, nonEmpty, printable, type Session, writeJson } from '../context.ts';
import { readSecretFile } from '../secret-files.ts';
import { closeChat, describeDevice, explainChatError, openChat } from './chat-session.ts';

interface LoginOptions {
  token?: string;
  tokenFile?: string;
  username?: string;
  deviceName?: string;
  json?: boolean;
}

export function registerChatLogin(chat: Command, session: Session): void {
  chat
    .command('login')
    .summary('log in to a server and set this terminal up as a messaging device')
    .description(
      'Saves the server (global --server and --ca) and a bearer session in the state directory, ' +
        'then registers this device (or binds the one already there) and uploads its key ' +
        'packages. The session token comes from, in this order: --token-file, --token, ' +
        'BULWARK_TOKEN; or log in with --username (password and authenticator code are asked ' +
        'for without echo).',
    )
    .option('--token-file <file>', 'read the bearer session token (bws_…) from this file')
    .option(
      '--token <token>',
      'the bearer session token; prefer --token-file or BULWARK_TOKEN: a value here shows in ' +
        'the process list and shell history',
    )
    .option('--username <name>', 'log in with this username, its password and a second factor')
    .option('--device-name <name>', 'how this device is listed (default "bulwark-cli on <host>")')
    .option('--json', 'print the device as JSON')
    .action((opts: LoginOptions, cmd: Command) => runLogin(session, cmd, opts));
}

async function runLogin(session: Session, cmd: Command, opts: LoginOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;
  const globals = session.globals(cmd);
  const ca = globals.caFile === null ? undefined : await readCaFile(globals.caFile);
  const token = await obtainToken(session, opts, globals.server, ca);
  const http = new MessagingHttp({
    baseUrl: globals.server.toString(),
    token,
    fetchImpl: httpsFetch(ca),
  });
  const me = await http
    .me()
    .catch((err: unknown) => {
      throw explainChatError(err);
    })
    .finally(() => http.close());
  const stateDir = resolveStateDir(io, cmd.optsWithGlobals<{ stateDir?: string }>().stateDir);
  const config: ChatConfig = {
    v: 1,
    server: globals.server.toString(),
    caFile: globals.caFile,
    token,
    userId: me.id,
    deviceName: opts.deviceName ?? defaultDeviceName(),
  };
  await saveConfig(stateDir, config);
  io.stderr.write(`logged in to ${globals.server.origin} as ${printable(me.displayName)}\n`);
  const chat = await openChat(session, cmd);
  try {
    const { device } = chat;
    if (session.json) writeJson(io, { userId: me.id, device });
    else io.stdout.write(describeDevice(device));
    io.stderr.write(
      device.created ? 'registered this device\n' : 'bound this session to the stored device\n',
    );
    if (device.status === 'pending') {
      io.stderr.write(
        'this device waits for verification: on another of your devices run\n' +
          `  bulwark chat verify-device ${device.deviceId}\n` +
          'after comparing the fingerprint above, or ask an administrator\n',
      );
    }
  } finally {
    await closeChat(chat);
  }
}

async function obtainToken(
  session: Session,
  opts: LoginOptions,
  server: URL,
  ca: string | undefined,
): Promise<string> {
  const { io } = session;
  let token: string | undefined;
  if (opts.tokenFile !== undefined) {
    token = await readSecretFile(io, opts.tokenFile, 'session token', 'token');
  } else if (opts.token !== undefined) {
    token = opts.token.trim();
  } else if (nonEmpty(io.env.BULWARK_TOKEN) !== undefined) {
    token = io.env.BULWARK_TOKEN?.trim();
  } else if (opts.username !== undefined) {
    const username = opts.username;
    const prompter = session.prompter();
    token = await loginWithPassword({
      server,
      ...(ca === undefined ? {} : { ca }),
      username,
      askPassword: () => prompter.ask(`Password for ${username}: `, 'password'),
      askCode: (method) =>
        prompter.ask(
          method === 'totp' ? 'Authenticator code: ' : 'Recovery code: ',
          method === 'totp' ? 'authenticator code' : 'recovery code',
        ),
    }).catch((err: unknown) => {
      throw explainChatError(err);
    });
  }
  if (!token) {
    throw new CliError(
      'give a session token (--token-file, --token or BULWARK_TOKEN) or --username',
    );
  }
  if (!/^bws_[A-Za-z0-9_-]{20,}$/.test(token)) {
    throw new CliError('that is not a Bulwark session token (they start with "bws_")');
  }
  return token;
}

async function readCaFile(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read the CA certificate ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
