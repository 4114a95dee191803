import { createRequire } from 'node:module';
import * as packet from 'dns-packet';
import { readQuestion, u16 } from '../cache/wire.ts';

/**
 * Building answers on the wire. Queries are decoded with dns-packet (which
 * refuses compression pointers that point forward, so a pointer loop cannot
 * spin us); answers we make ourselves are encoded here, with the EDNS(0)
 * OPT record added last so padding can be sized for the final length.
 */

export type Packet = packet.Packet;
export type Answer = packet.Answer;

export const rcodes = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;
export type Rcode = keyof typeof rcodes;

/** Queries larger than this are not queries a stub resolver sends; refused as FORMERR. */
export const maxQueryBytes = 4096;
/** A UDP answer without EDNS fits 512 octets (RFC 1035 §4.2.1). */
export const classicUdpBytes = 512;
/** The DNS Flag Day 2020 size: no IP fragmentation on any sane path. */
export const ednsUdpBytes = 1232;
/** RFC 8467 §4.1: responses padded to a multiple of 468 octets. */
export const responsePaddingBlock = 468;
/** RFC 8467 §4.1: queries padded to a multiple of 128 octets. */
export const queryPaddingBlock = 128;

const flagQr = 1 << 15;
const flagAa = 1 << 10;
const flagTc = 1 << 9;
const flagRd = 1 << 8;
const flagRa = 1 << 7;
const flagAd = 1 << 5;
const flagCd = 1 << 4;

/** What the answer needs to know about the query it answers. */
export interface QueryFacts {
  id: number;
  flags: number;
  /** The question's bytes as the client sent them (header excluded), letter case kept (0x20). */
  question: Uint8Array;
  name: string;
  type: number;
  klass: number;
  /** The client's EDNS UDP payload size; null when it sent no OPT record. */
  ednsSize: number | null;
  dnssecOk: boolean;
}

/**
 * Facts of a well-formed query: one question, QR clear, standard query,
 * at most one OPT in the additional section. Anything else is null and
 * the caller answers FORMERR (or NOTIMP for another opcode).
 */
export function decodeQuery(
  bytes: Uint8Array,
):
  | { ok: true; facts: QueryFacts }
  | { ok: false; rcode: Rcode; id: number | null; reason: string } {
  if (bytes.length < 12) return { ok: false, rcode: 'FORMERR', id: null, reason: 'short header' };
  const fast = readPlainQuery(bytes);
  if (fast) return { ok: true, facts: fast };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const id = view.readUInt16BE(0);
  const flags = view.readUInt16BE(2);
  if (flags & flagQr) return { ok: false, rcode: 'FORMERR', id: null, reason: 'a response' };
  if (bytes.length > maxQueryBytes) {
    return { ok: false, rcode: 'FORMERR', id, reason: 'query too large' };
  }
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { ok: false, rcode: 'NOTIMP', id, reason: `opcode ${opcode}` };
  let decoded: Packet;
  try {
    decoded = packet.decode(view);
  } catch (err) {
    return { ok: false, rcode: 'FORMERR', id, reason: (err as Error).message };
  }
  const questions = decoded.questions ?? [];
  const q = questions[0];
  if (questions.length !== 1 || !q) {
    return { ok: false, rcode: 'FORMERR', id, reason: 'not exactly one question' };
  }
  if ((decoded.answers?.length ?? 0) > 0) {
    return { ok: false, rcode: 'FORMERR', id, reason: 'answers in a query' };
  }
  const opts = (decoded.additionals ?? []).filter((a) => a.type === 'OPT');
  if (opts.length > 1) return { ok: false, rcode: 'FORMERR', id, reason: 'two OPT records' };
  const questionEnd = 12 + questionLength(view, 12);
  const opt = opts[0] as (packet.OptAnswer & { flag_do?: boolean }) | undefined;
  const typeNumber = view.readUInt16BE(questionEnd - 4);
  const klass = view.readUInt16BE(questionEnd - 2);
  return {
    ok: true,
    facts: {
      id,
      flags,
      question: bytes.subarray(12, questionEnd),
      name: q.name.toLowerCase(),
      type: typeNumber,
      klass,
      ednsSize: opt ? Math.max(classicUdpBytes, opt.udpPayloadSize ?? classicUdpBytes) : null,
      dnssecOk: opt ? Boolean(opt.flag_do) : false,
    },
  };
}

/**
 * The common query read without a general decoder: one question, nothing
 * but an optional OPT after it, and not a byte more. This is the hot path
 * (a cache hit should cost microseconds); anything unusual returns null
 * and goes through dns-packet, which checks everything.
 */
function readPlainQuery(bytes: Uint8Array): QueryFacts | null {
  if (bytes.length > maxQueryBytes) return null;
  const q = readQuestion(bytes);
  if (!q || (q.flags & flagQr) !== 0 || ((q.flags >> 11) & 0xf) !== 0) return null;
  if (q.ancount !== 0 || q.nscount !== 0 || q.arcount > 1 || q.name.includes('\\')) return null;
  let at = q.questionEnd;
  let ednsSize: number | null = null;
  let dnssecOk = false;
  if (q.arcount === 1) {
    if (bytes[at] !== 0 || at + 11 > bytes.length || u16(bytes, at + 1) !== 41) return null;
    ednsSize = Math.max(classicUdpBytes, u16(bytes, at + 3));
    dnssecOk = (u16(bytes, at + 7) & 0x8000) !== 0;
    at += 11 + u16(bytes, at + 9);
  }
  if (at !== bytes.length) return null;
  return {
    id: q.id,
    flags: q.flags,
    question: bytes.subarray(12, q.questionEnd),
    name: q.name,
    type: q.type,
    klass: q.class,
    ednsSize,
    dnssecOk,
  };
}

/** Length of the (already validated) first question: its name's labels plus type and class. */
function questionLength(view: Buffer, start: number): number {
  let at = start;
  for (;;) {
    const len = view[at] ?? 0;
    if (len === 0) return at + 1 + 4 - start;
    at += len + 1;
  }
}

export interface AnswerOptions {
  rcode: Rcode;
  answers?: Answer[];
  authorities?: Answer[];
  authoritative?: boolean;
  /** Extended DNS Error (RFC 8914): an info code and text for the person debugging. */
  ede?: { code: number; text: string };
  /** Keep the upstream's AD/CD bits (forwarded answers). */
  flags?: number;
}

/** A full answer to a query, without OPT (see finishResponse). */
export function encodeAnswer(facts: QueryFacts, options: AnswerOptions): Buffer {
  const body = packet.encode({
    type: 'response',
    id: facts.id,
    flags: 0,
    questions: [],
    answers: options.answers ?? [],
    authorities: options.authorities ?? [],
  });
  // dns-packet would re-encode the question in lower case; the client's own bytes go back.
  const header = Buffer.from(body.subarray(0, 12));
  header.writeUInt16BE(1, 4);
  let flags = flagQr | flagRa | (facts.flags & (flagRd | flagCd)) | rcodes[options.rcode];
  if (options.authoritative) flags |= flagAa;
  if (options.flags !== undefined) flags |= options.flags & flagAd;
  header.writeUInt16BE(flags, 2);
  return Buffer.concat([header, facts.question, body.subarray(12)]);
}

/**
 * An answer with only a header and the question: errors, refusals, and the
 * truncated reply that sends a UDP client to TCP.
 */
export function encodeBare(facts: QueryFacts, rcode: Rcode, extraFlags = 0): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(facts.id, 0);
  header.writeUInt16BE(
    flagQr | flagRa | (facts.flags & (flagRd | flagCd)) | rcodes[rcode] | extraFlags,
    2,
  );
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, facts.question]);
}

/** FORMERR/NOTIMP for a query we could not read: header only (RFC 1035 allows no question). */
export function encodeHeaderOnly(id: number, rcode: Rcode): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(flagQr | flagRa | rcodes[rcode], 2);
  return header;
}

export interface FinishOptions {
  /** Pad to RFC 8467 blocks: only on encrypted transports, where size leaks the name. */
  pad: boolean;
  /** The largest answer the transport carries (UDP: the client's size; streams: 65535). */
  maxBytes: number;
  ede?: { code: number; text: string };
}

/**
 * Adds our OPT record when the client spoke EDNS (RFC 6891 §7: only then),
 * with padding and an Extended DNS Error when asked, and truncates (TC, no
 * records) when the answer does not fit the transport.
 */
export function finishResponse(
  response: Uint8Array,
  facts: QueryFacts,
  options: FinishOptions,
): Uint8Array {
  let out = response;
  if (facts.ednsSize !== null) out = appendOpt(out, facts, options);
  if (out.length <= options.maxBytes) return out;
  const truncated = Buffer.alloc(12 + facts.question.length);
  truncated.set(response.subarray(0, 4), 0);
  truncated.writeUInt16BE(truncated.readUInt16BE(2) | flagTc, 2);
  truncated.writeUInt16BE(1, 4);
  truncated.set(facts.question, 12);
  return facts.ednsSize !== null
    ? appendOpt(truncated, facts, { ...options, pad: false })
    : truncated;
}

const optFixedBytes = 11;

function appendOpt(response: Uint8Array, facts: QueryFacts, options: FinishOptions): Buffer {
  const optionBytes: Buffer[] = [];
  if (options.ede) {
    const text = Buffer.from(options.ede.text, 'utf8');
    const ede = Buffer.alloc(6 + text.length);
    ede.writeUInt16BE(15, 0); // option code EDE (RFC 8914)
    ede.writeUInt16BE(2 + text.length, 2);
    ede.writeUInt16BE(options.ede.code, 4);
    ede.set(text, 6);
    optionBytes.push(ede);
  }
  const withoutPadding =
    response.length + optFixedBytes + optionBytes.reduce((n, b) => n + b.length, 0);
  if (options.pad) {
    // The padding option's own 4-octet header counts toward the block.
    const total = withoutPadding + 4;
    const padLength =
      (responsePaddingBlock - (total % responsePaddingBlock)) % responsePaddingBlock;
    const padding = Buffer.alloc(4 + padLength);
    padding.writeUInt16BE(12, 0); // option code PADDING (RFC 7830)
    padding.writeUInt16BE(padLength, 2);
    optionBytes.push(padding);
  }
  const rdata = Buffer.concat(optionBytes);
  const opt = Buffer.alloc(optFixedBytes);
  opt.writeUInt8(0, 0); // root owner
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(ednsUdpBytes, 3); // our payload size
  opt.writeUInt32BE(facts.dnssecOk ? 0x8000 : 0, 5);
  opt.writeUInt16BE(rdata.length, 9);
  const out = Buffer.concat([response, opt, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** The query we send upstream: fresh id, recursion desired, EDNS with DO as asked, padded. */
export function upstreamQuery(facts: QueryFacts): Buffer {
  const query = packet.encode({
    type: 'query',
    id: 0,
    flags: packet.RECURSION_DESIRED | (facts.flags & flagCd),
    questions: [{ name: facts.name, type: typeName(facts.type), class: 'IN' }],
  } as packet.Packet);
  const size = query.length + optFixedBytes + 4;
  const padLength = (queryPaddingBlock - (size % queryPaddingBlock)) % queryPaddingBlock;
  const opt = Buffer.alloc(optFixedBytes + 4 + padLength);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(ednsUdpBytes, 3);
  opt.writeUInt32BE(facts.dnssecOk ? 0x8000 : 0, 5);
  opt.writeUInt16BE(4 + padLength, 9);
  opt.writeUInt16BE(12, 11);
  opt.writeUInt16BE(padLength, 13);
  const out = Buffer.concat([query, opt]);
  out.writeUInt16BE(1, 10);
  return out;
}

/** dns-packet's name for a type number (UNKNOWN_n for the ones it does not know). */
export function typeName(type: number): packet.RecordType {
  return typeTable.toString(type) as packet.RecordType;
}

/** The number of a type name ('A' → 1); 0 when unknown. */
export function typeNumber(name: string): number {
  return typeTable.toType(name);
}

// dns-packet's own table (no types for this sub-module, and no `exports` map to stop us).
const typeTable = createRequire(import.meta.url)('dns-packet/types.js') as {
  toString(type: number): string;
  toType(name: string): number;
};

export const responseFlags = {
  qr: flagQr,
  aa: flagAa,
  tc: flagTc,
  rd: flagRd,
  ra: flagRa,
  ad: flagAd,
};
