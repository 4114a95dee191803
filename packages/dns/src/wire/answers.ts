import * as packet from 'dns-packet';
import { isPrivateAddress } from '../firewall/rebinding.ts';
import { encodeAnswer, type QueryFacts, type Rcode } from './message.ts';

/**
 * Byte-level helpers of the resolver's answers: an upstream's answer made
 * ours (rebinding filter, CNAME targets noted, extras dropped), flags and ids
 * put right for each client, and the few names answered locally.
 */

/**
 * An upstream's answer as we pass it on and cache it: same question, A/AAAA
 * records with private addresses removed (unless the name is exempt), only
 * the SOA kept for negative answers (RFC 2308), nothing else in the extra
 * sections. null: unusable (unreadable, another question, SERVFAIL).
 */
export function cleanUpstreamAnswer(
  facts: QueryFacts,
  bytes: Uint8Array,
  rebindingExempt: boolean,
): { response: Buffer; targets: string[] } | null {
  let decoded: packet.Packet;
  try {
    decoded = packet.decode(Buffer.from(bytes));
  } catch {
    return null;
  }
  const question = decoded.questions?.[0];
  if (!question || question.name.toLowerCase() !== facts.name) return null;
  const rcode = (decoded.flags ?? 0) & 0xf;
  const answerRcode: Rcode = rcode === 3 ? 'NXDOMAIN' : rcode === 0 ? 'NOERROR' : 'SERVFAIL';
  if (answerRcode === 'SERVFAIL') return null;
  const answers = (decoded.answers ?? []).filter(
    (a) =>
      rebindingExempt ||
      !((a.type === 'A' || a.type === 'AAAA') && isPrivateAddress(String(dataOf(a)))),
  );
  const targets = answers
    .filter((a) => a.type === 'CNAME')
    .map((a) => String(dataOf(a)).toLowerCase().replace(/\.$/, ''));
  const authorities =
    answers.length === 0 ? (decoded.authorities ?? []).filter((a) => a.type === 'SOA') : [];
  const response = encodeAnswer(facts, {
    rcode: answerRcode,
    answers,
    authorities,
    flags: decoded.flags ?? 0,
  });
  return { response, targets };
}

function dataOf(answer: packet.Answer): unknown {
  return (answer as { data?: unknown }).data;
}

const rcodeNames = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export function rcodeName(response: Uint8Array): string {
  const code = (response[3] ?? 0) & 0xf;
  return rcodeNames[code] ?? `RCODE${code}`;
}

/** A cached answer carries the first asker's RD/CD bits; each client gets its own back. */
export function withClientFlags(response: Uint8Array, facts: QueryFacts): Uint8Array {
  const view = Buffer.from(response.buffer, response.byteOffset, response.length);
  const mask = (1 << 8) | (1 << 4);
  view.writeUInt16BE((view.readUInt16BE(2) & ~mask) | (facts.flags & mask), 2);
  return response;
}

export function reidentify(response: Uint8Array, facts: QueryFacts): Uint8Array {
  const copy = Buffer.from(response);
  copy.writeUInt16BE(facts.id, 0);
  copy.set(facts.question, 12);
  return copy;
}

/** Reverse names of private and link-local ranges (RFC 6303): answered here, never forwarded. */
export function isPrivateReverse(name: string): boolean {
  if (!name.endsWith('.arpa')) return false;
  if (/(^|\.)10\.in-addr\.arpa$/.test(name)) return true;
  if (/(^|\.)168\.192\.in-addr\.arpa$/.test(name)) return true;
  if (/(^|\.)254\.169\.in-addr\.arpa$/.test(name)) return true;
  if (/(^|\.)127\.in-addr\.arpa$/.test(name)) return true;
  if (/(^|\.)(1[6-9]|2\d|3[01])\.172\.in-addr\.arpa$/.test(name)) return true;
  if (/(^|\.)[cd]\.f\.ip6\.arpa$/.test(name)) return true;
  if (/(^|\.)[89ab]\.e\.f\.ip6\.arpa$/.test(name)) return true;
  return false;
}

/** A question's wire bytes for a name we ask about ourselves (no client bytes to echo). */
export function questionBytes(name: string, type: number): Buffer {
  const labels = name === '' ? [] : name.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(1, 3);
  return Buffer.concat([...parts, tail]);
}
