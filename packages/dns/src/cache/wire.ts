/**
 * Just enough DNS wire format (RFC 1035 §4) for the cache's hot path: read a
 * query's header and question without a full decode, and find where every
 * TTL of a response sits so a cached answer can be re-aged by overwriting
 * four bytes per record. Everything is bounds-checked; malformed input gives
 * null, never an exception, because these bytes come straight off the network.
 */

export const HEADER_LENGTH = 12;
export const TYPE_OPT = 41;
export const TYPE_SOA = 6;

export interface WireQuestion {
  id: number;
  flags: number;
  /** Lower case (ASCII only, RFC 4343), no trailing dot, '' for the root; see readQuestion. */
  name: string;
  type: number;
  class: number;
  /** Offset just after the question (after QTYPE and QCLASS). */
  questionEnd: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

/**
 * Header and the single question of a message. A question's name must not use
 * compression pointers (nothing precedes it to point at), labels are at most
 * 63 octets and the name at most 255 (RFC 1035 §2.3.4); anything else, or a
 * QDCOUNT other than 1 (RFC 9619), gives null.
 *
 * Label bytes other than printable ASCII, and `.` or `\` inside a label, are
 * written `\DDD` (RFC 4343 §2.1 presentation form), so two different wire
 * names can never share a cache key (`a.b` as one label is `a\046b`).
 */
/**
 * Where readQuestion spells the name before making one string of it (several
 * times faster than growing a string per character). Shared, which is safe
 * because readQuestion is synchronous; 1 024 bytes hold the longest name, 253
 * octets each written as `\DDD`.
 */
const nameScratch = Buffer.alloc(1024);

export function readQuestion(packet: Uint8Array): WireQuestion | null {
  if (packet.length < HEADER_LENGTH + 5) return null;
  const qdcount = u16(packet, 4);
  if (qdcount !== 1) return null;
  let at = HEADER_LENGTH;
  let n = 0;
  for (;;) {
    if (at >= packet.length) return null;
    const length = packet[at] as number;
    if (length === 0) break;
    // 0xc0 is a pointer and 0x40/0x80 the obsolete extended label types.
    if (length > 63) return null;
    if (at + 1 + length >= packet.length) return null;
    if (n > 0) nameScratch[n++] = 0x2e;
    for (let i = at + 1; i <= at + length; i++) {
      const c = packet[i] as number;
      if (c >= 0x41 && c <= 0x5a) nameScratch[n++] = c + 0x20;
      else if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) nameScratch[n++] = c;
      else {
        nameScratch[n++] = 0x5c;
        nameScratch[n++] = 0x30 + Math.floor(c / 100);
        nameScratch[n++] = 0x30 + (Math.floor(c / 10) % 10);
        nameScratch[n++] = 0x30 + (c % 10);
      }
    }
    at += 1 + length;
    // The wire length counts every length octet plus the final zero.
    if (at + 1 - HEADER_LENGTH > 255) return null;
  }
  at += 1;
  if (at + 4 > packet.length) return null;
  return {
    id: u16(packet, 0),
    flags: u16(packet, 2),
    name: nameScratch.toString('latin1', 0, n),
    type: u16(packet, at),
    class: u16(packet, at + 2),
    questionEnd: at + 4,
    qdcount,
    ancount: u16(packet, 6),
    nscount: u16(packet, 8),
    arcount: u16(packet, 10),
  };
}

export type Section = 'answer' | 'authority' | 'additional';

/** Where one resource record's fields sit in the message. */
export interface WireRecord {
  section: Section;
  /** Offset of the record's first byte (its owner name). */
  start: number;
  type: number;
  /** Offset of the 4-byte TTL field. */
  ttlOffset: number;
  /** The TTL as sent; values with the top bit set read as 0 (RFC 2181 §8). */
  ttl: number;
  rdataOffset: number;
  rdlength: number;
  /** Offset just after the record. */
  end: number;
}

/**
 * Every record of the answer, authority and additional sections, in order,
 * or null when the message is malformed: a name running past the end, a
 * pointer that does not point backwards, RDATA longer than what is left, or
 * bytes after the last record that the counts do not account for are ignored
 * (they are harmless and some servers pad).
 */
export function readRecords(message: Uint8Array): WireRecord[] | null {
  if (message.length < HEADER_LENGTH) return null;
  const qdcount = u16(message, 4);
  const counts: [Section, number][] = [
    ['answer', u16(message, 6)],
    ['authority', u16(message, 8)],
    ['additional', u16(message, 10)],
  ];
  let at = HEADER_LENGTH;
  for (let i = 0; i < qdcount; i++) {
    const end = skipName(message, at, message.length);
    if (end < 0 || end + 4 > message.length) return null;
    at = end + 4;
  }
  const records: WireRecord[] = [];
  for (const [section, count] of counts) {
    for (let i = 0; i < count; i++) {
      const start = at;
      const nameEnd = skipName(message, at, message.length);
      if (nameEnd < 0 || nameEnd + 10 > message.length) return null;
      const rdlength = u16(message, nameEnd + 8);
      const end = nameEnd + 10 + rdlength;
      if (end > message.length) return null;
      const raw = u32(message, nameEnd + 4);
      records.push({
        section,
        start,
        type: u16(message, nameEnd),
        ttlOffset: nameEnd + 4,
        ttl: raw > 0x7fffffff ? 0 : raw,
        rdataOffset: nameEnd + 10,
        rdlength,
        end,
      });
      at = end;
    }
  }
  return records;
}

/**
 * Offsets of every TTL field in the answer, authority and additional
 * sections, except the OPT pseudo-record's (RFC 6891 §6.1.3: its "TTL" is the
 * extended RCODE, version and DO flag, which must not be aged). Null when
 * the message is malformed.
 */
export function ttlOffsets(response: Uint8Array): number[] | null {
  const records = readRecords(response);
  if (records === null) return null;
  const offsets: number[] = [];
  for (const record of records) if (record.type !== TYPE_OPT) offsets.push(record.ttlOffset);
  return offsets;
}

/**
 * The SOA MINIMUM field of an SOA record (the negative-caching TTL, RFC 2308
 * §4), or null when its RDATA is not MNAME, RNAME and five 32-bit numbers.
 */
export function soaMinimum(message: Uint8Array, record: WireRecord): number | null {
  if (record.type !== TYPE_SOA) return null;
  const rdataEnd = record.rdataOffset + record.rdlength;
  const mnameEnd = skipName(message, record.rdataOffset, rdataEnd);
  if (mnameEnd < 0) return null;
  const rnameEnd = skipName(message, mnameEnd, rdataEnd);
  if (rnameEnd < 0 || rnameEnd + 20 !== rdataEnd) return null;
  const minimum = u32(message, rnameEnd + 16);
  return minimum > 0x7fffffff ? 0 : minimum;
}

/**
 * Offset after the name starting at `at` (which must end before `limit`), or
 * -1. A compression pointer ends the name in place (two bytes), but it must
 * point strictly backwards to a message offset, as every real encoder does;
 * the target itself is not followed, since only the length in place matters
 * here, which rules out pointer loops by construction.
 */
function skipName(message: Uint8Array, at: number, limit: number): number {
  let length = 0;
  for (;;) {
    if (at >= limit) return -1;
    const octet = message[at] as number;
    if (octet === 0) return at + 1;
    if ((octet & 0xc0) === 0xc0) {
      if (at + 2 > limit) return -1;
      const target = ((octet & 0x3f) << 8) | (message[at + 1] as number);
      return target < at && target >= HEADER_LENGTH ? at + 2 : -1;
    }
    if (octet > 63) return -1;
    length += octet + 1;
    // 255 octets at most, counting the final zero (RFC 1035 §3.1).
    if (length > 254) return -1;
    at += octet + 1;
  }
}

export function u16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
}

export function u32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at] as number) * 0x1000000 +
    (((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number))
  );
}

export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}
