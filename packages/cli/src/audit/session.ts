import { type Command, InvalidArgumentError } from 'commander';
import type { AuditClient } from '../client.ts';
import { connect, type Globals, printable, type Session } from '../context.ts';
import { explainTokenRefusal, operatorToken } from '../operator-token.ts';

export interface TokenOptions {
  tokenFile?: string;
}

/** What every `bulwark audit` verb needs: the server's audit routes and the operator token. */
export interface AuditContext {
  globals: Globals;
  token: string;
  /** The audit routes, a refused token explained as `seal` explains it. */
  audit: AuditClient;
}

export async function openAudit(
  session: Session,
  cmd: Command,
  opts: TokenOptions,
): Promise<AuditContext> {
  const globals = session.globals(cmd);
  const token = await operatorToken(session.io, opts.tokenFile, globals.dataDir);
  const raw = connect(globals).audit;
  const explained = <T>(answer: Promise<T>): Promise<T> =>
    answer.catch((err: unknown) => {
      throw explainTokenRefusal(err);
    });
  const audit: AuditClient = {
    key: (t) => explained(raw.key(t)),
    checkpoint: (t) => explained(raw.checkpoint(t)),
    signHead: (t) => explained(raw.signHead(t)),
    inclusion: (t, seq, size) => explained(raw.inclusion(t, seq, size)),
    consistency: (t, from, to) => explained(raw.consistency(t, from, to)),
    entries: (t, from, limit) => explained(raw.entries(t, from, limit)),
    heads: (t) => explained(raw.heads(t)),
    verify: (t) => explained(raw.verify(t)),
  };
  return { globals, token, audit };
}

/** A commander parser for a non-negative integer option or argument. */
export function count(what: string): (text: string) => number {
  return (text) => {
    if (!/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new InvalidArgumentError(`${what} must be a whole number ≥ 0`);
    }
    return Number(text);
  };
}

/** A failure that must not be missed: framed on stderr. */
export function shout(io: Session['io'], text: string): void {
  const bar = '!'.repeat(72);
  io.stderr.write(`\n${bar}\n${text}\n${bar}\n\n`);
}

/** Adds the option every audit verb takes. */
export function tokenOption(cmd: Command): Command {
  return cmd.option('--token-file <file>', 'read the operator token from this file');
}

/** A note with any control character but its newlines made visible. */
export function printableNote(note: string): string {
  const text = note.split('\n').map(printable).join('\n');
  return note.endsWith('\n') ? text : `${text}\n`;
}
