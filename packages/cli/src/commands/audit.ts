import type { Command } from 'commander';
import { openAudit, printableNote, type TokenOptions, tokenOption } from '../audit/session.ts';
import type { Session } from '../context.ts';
import { operatorTokenSources } from '../operator-token.ts';
import { registerAuditExport } from './audit-export.ts';
import { registerAuditProof } from './audit-proof.ts';
import { registerAuditVerify } from './audit-verify.ts';

/** `bulwark audit <verb>`: the audit ledger, checked from the operator's side. */
export function registerAudit(program: Command, session: Session): void {
  const audit = program
    .command('audit')
    .summary('verify the audit ledger, print inclusion proofs, export entries')
    .description(
      'The audit ledger: every recorded change is a leaf of an RFC 9162 Merkle tree whose ' +
        'heads the server signs as C2SP checkpoints. These commands need the operator token, ' +
        `taken from, in this order: ${operatorTokenSources}.`,
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 success; 1 error; 3 the ledger, a proof or the ledger history failed ' +
        'to verify.',
    );
  registerAuditVerify(audit, session);
  registerAuditProof(audit, session);
  registerAuditCheckpoint(audit, session);
  registerAuditExport(audit, session);
}

function registerAuditCheckpoint(audit: Command, session: Session): void {
  tokenOption(
    audit
      .command('checkpoint')
      .summary('sign the current tree head now and print its checkpoint note')
      .description(
        'Ask the server to sign the current head of the ledger (it does so on a schedule and ' +
          'at seal too) and print the signed C2SP checkpoint note on stdout.',
      ),
  ).action(async (opts: TokenOptions, cmd: Command) => {
    const { audit: api, token } = await openAudit(session, cmd, opts);
    const note = await api.signHead(token);
    session.io.stdout.write(printableNote(note));
  });
}
