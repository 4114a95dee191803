import type { SysStatus } from '@bulwark/protocol';
import type { Command } from 'commander';
import { connect, exitCodes, printable, type Session, writeJson } from '../context.ts';

interface StatusOptions {
  json?: boolean;
}

export function registerStatus(program: Command, session: Session): void {
  program
    .command('status')
    .summary('show whether the server is initialised, sealed or unsealed')
    .description(
      'Show the seal state of the server, unseal progress, storage back end and version.',
    )
    .option('--json', 'print the status as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 unsealed, 2 sealed or not initialised, 1 error (as `vault status`).',
    )
    .action((opts: StatusOptions, cmd: Command) => runStatus(session, cmd, opts));
}

async function runStatus(session: Session, cmd: Command, opts: StatusOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;
  const globals = session.globals(cmd);
  const status = await connect(globals).status();
  if (session.json) writeJson(io, status);
  else io.stdout.write(formatStatus(status, globals.server.origin));
  session.exitCode = status.state === 'unsealed' ? exitCodes.ok : exitCodes.refused;
}

export function formatStatus(status: SysStatus, server: string): string {
  const rows: [string, string][] = [
    ['server', server],
    ['state', status.state],
  ];
  if (status.shares) {
    const { given, threshold, total } = status.shares;
    rows.push([
      'shares',
      status.state === 'sealed'
        ? `${given} of ${threshold} given (of ${total} made)`
        : `any ${threshold} of ${total} unseal`,
    ]);
  }
  if (status.providers.length > 0) rows.push(['unseal with', status.providers.join(', ')]);
  rows.push(['installation', status.installationId ?? '(none yet)']);
  rows.push(['storage', status.storage]);
  rows.push(['version', status.version]);
  if (status.state === 'uninitialized') rows.push(['next step', 'bulwark init']);
  if (status.state === 'sealed') rows.push(['next step', 'bulwark unseal']);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${printable(v)}\n`).join('');
}
