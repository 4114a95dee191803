import type { Answer } from 'dns-packet';
import { normalizeName } from '../names.ts';
import { type ZoneRecord, type ZoneRecordType, zoneRecordTypes } from '../types.ts';
import { parseIPv4, parseIPv6, parseTarget, parseUint, tokenize } from './presentation.ts';
import { parseServiceBinding } from './svcb.ts';

/**
 * One internal-zone record as an admin writes it: checked, brought to one
 * spelling, and turned into the answer dns-packet encodes. The server calls
 * checkRecord on every edit, so errors are sentences for that admin.
 */

export type RecordCheck = { ok: true; record: ZoneRecord } | { ok: false; error: string };

export const defaultTtl = 3600;
/** A week: longer and a mistake outlives anyone's patience waiting for caches to drop it. */
export const maxTtl = 604800;
const maxTxtCharacters = 4000;
/** Well above any real record; bounds the work an absurd input can cause. */
const maxDataCharacters = 20000;

/** A record's data, read: its canonical text and how to make the wire answer. */
interface ParsedData {
  data: string;
  answer(name: string, ttl: number): Answer;
}

/**
 * Checks one record for a zone and returns it normalised. Never throws,
 * whatever it is given (the fields may come straight from a JSON body).
 */
export function checkRecord(
  input: { name: string; type: string; ttl?: number | undefined; data: string },
  zoneName: string,
): RecordCheck {
  const fail = (error: string): RecordCheck => ({ ok: false, error });
  if (typeof input !== 'object' || input === null) {
    return fail('a record needs a name, type and data');
  }
  const { name, type, ttl = defaultTtl, data } = input;
  if (typeof zoneName !== 'string' || typeof name !== 'string' || typeof type !== 'string') {
    return fail('name, type and data must be text');
  }
  if (typeof data !== 'string') return fail('name, type and data must be text');
  const zone = normalizeName(zoneName);
  if (zone === null) return fail(`zone name '${zoneName}' is not a valid domain name`);

  const recordType = type.trim().toUpperCase();
  if (!isZoneRecordType(recordType)) {
    return fail(`record type '${type}' is not supported: use one of ${zoneRecordTypes.join(', ')}`);
  }
  const owner = parseOwner(name, zone);
  if ('error' in owner) return fail(owner.error);
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > maxTtl) {
    return fail(`TTL must be a whole number of seconds from 0 to ${maxTtl} (one week)`);
  }
  if (data.length > maxDataCharacters) return fail(`${recordType} data is too long`);

  const parsed = parseData(recordType, data.trim());
  if ('error' in parsed) return fail(parsed.error);
  const ownerProblem = checkOwner(recordType, owner.name, zone, parsed.data);
  if (ownerProblem !== null) return fail(ownerProblem);
  return { ok: true, record: { name: owner.name, type: recordType, ttl, data: parsed.data } };
}

/**
 * The dns-packet answer for a checked record. SVCB and HTTPS go out as
 * dns-packet's UNKNOWN_64 / UNKNOWN_65 with their RDATA as bytes: the only
 * way it encodes a type it does not know, and what it decodes them to.
 * Throws on a record checkRecord would refuse (a bug upstream, not input).
 */
export function toAnswer(record: ZoneRecord): Answer {
  const parsed = parseData(record.type, record.data);
  if ('error' in parsed) throw new Error(`${record.name} ${record.type}: ${parsed.error}`);
  return parsed.answer(record.name, record.ttl);
}

export function isZoneRecordType(type: string): type is ZoneRecordType {
  return (zoneRecordTypes as readonly string[]).includes(type);
}

/** The owner name: the apex (`@` for short), a name under it, or a wildcard `*.name` (RFC 4592). */
function parseOwner(input: string, zone: string): { name: string } | { error: string } {
  const text = input.trim();
  let name: string | null;
  if (text === '@') name = zone;
  else if (text.startsWith('*.')) {
    const rest = normalizeName(text.slice(2));
    name = rest === null || rest.length > 251 ? null : `*.${rest}`;
  } else name = normalizeName(text);
  if (name === null) return { error: `name '${input}' is not a valid domain name` };
  if (name !== zone && !name.endsWith(`.${zone}`)) {
    return {
      error: `name '${input}' is outside the zone ${zone}: it must be ${zone} or end in .${zone}, like www.${zone}`,
    };
  }
  return { name };
}

/** Rules that tie the data to where it sits. */
function checkOwner(
  type: ZoneRecordType,
  owner: string,
  zone: string,
  data: string,
): string | null {
  const [first = '', second = ''] = owner.split('.');
  switch (type) {
    case 'CNAME':
      // RFC 1034 §3.6.2: a CNAME owner has no other data, and the apex always has SOA and NS.
      if (owner === zone) {
        return `a CNAME cannot sit at the zone apex ${zone}, which has SOA and NS records`;
      }
      if (data === owner) return 'a CNAME cannot point to its own name';
      return null;
    case 'SRV':
      // RFC 2782: clients only ever ask for _service._proto.name.
      if ((first === '*' || first.startsWith('_')) && second.startsWith('_')) return null;
      return `SRV records are named _service._protocol.name, like _sip._tcp.${zone}`;
    case 'TLSA':
      // RFC 6698 §3: clients ask for _port._protocol.host.
      if ((first === '*' || /^_\d{1,5}$/.test(first)) && second.startsWith('_')) return null;
      return `TLSA records are named _port._protocol.host, like _443._tcp.www.${zone}`;
    default:
      return null;
  }
}

const usage: Record<ZoneRecordType, string> = {
  A: "A data must be an IPv4 address, like '192.0.2.1'",
  AAAA: "AAAA data must be an IPv6 address, like '2001:db8::1'",
  CNAME: "CNAME data must be one domain name, like 'www.example.org'",
  MX: "MX data must be '<preference> <exchange>', like '10 mail.example.org'",
  TXT: "TXT data must be text, like 'v=spf1 -all'",
  SRV: "SRV data must be '<priority> <weight> <port> <target>', like '10 5 443 host.example.org'",
  CAA: `CAA data must be '<flags> <tag> "<value>"', like '0 issue "letsencrypt.org"'`,
  TLSA: "TLSA data must be '<usage> <selector> <matching type> <hex>', like '3 1 1 <64 hex digits>'",
  HTTPS: "HTTPS data must be '<priority> <target> [key=value …]', like '1 . alpn=h2,h3'",
  SVCB: "SVCB data must be '<priority> <target> [key=value …]', like '1 . alpn=h2,h3'",
};

function parseData(type: ZoneRecordType, data: string): ParsedData | { error: string } {
  if (type === 'TXT') return parseTxt(data);
  if (type === 'HTTPS' || type === 'SVCB') {
    const parsed = parseServiceBinding(type, data);
    if ('error' in parsed) return parsed;
    // dns-packet's Answer type has no member for unknown types, though its encoder takes them.
    const wireType = type === 'HTTPS' ? 'UNKNOWN_65' : 'UNKNOWN_64';
    return {
      data: parsed.data,
      answer: (name, ttl) =>
        ({ name, type: wireType, ttl, class: 'IN', data: parsed.rdata }) as unknown as Answer,
    };
  }
  const read = tokenize(data);
  if ('error' in read) return { error: `${type} data: ${read.error}` };
  const fields = read.tokens;
  const bad = (error: string = usage[type]) => ({ error });
  switch (type) {
    case 'A': {
      const [address] = fields;
      if (fields.length !== 1 || address === undefined || parseIPv4(address) === null) return bad();
      return {
        data: address,
        answer: (name, ttl) => ({ name, type, ttl, class: 'IN', data: address }),
      };
    }
    case 'AAAA': {
      const address = fields.length === 1 && fields[0] !== undefined ? parseIPv6(fields[0]) : null;
      if (address === null) return bad();
      const text = address.text;
      return { data: text, answer: (name, ttl) => ({ name, type, ttl, class: 'IN', data: text }) };
    }
    case 'CNAME': {
      const [targetText] = fields;
      if (fields.length !== 1 || targetText === undefined) return bad();
      const target = parseTarget(targetText, false);
      if (target === null) return bad(`CNAME target '${targetText}' is not a valid domain name`);
      return {
        data: target,
        answer: (name, ttl) => ({ name, type, ttl, class: 'IN', data: target }),
      };
    }
    case 'MX': {
      const [preferenceText, exchangeText] = fields;
      if (fields.length !== 2 || preferenceText === undefined || exchangeText === undefined)
        return bad();
      const preference = parseUint(preferenceText, 65535);
      if (preference === null) return bad('MX preference must be a whole number from 0 to 65535');
      const exchange = parseTarget(exchangeText, true);
      if (exchange === null) return bad(`MX exchange '${exchangeText}' is not a valid domain name`);
      // RFC 7505: '0 .' says "this domain takes no mail"; '.' means nothing else.
      if (exchange === '.' && preference !== 0)
        return bad("a null MX ('.') must have preference 0");
      return {
        data: `${preference} ${exchange}`,
        answer: (name, ttl) => ({ name, type, ttl, class: 'IN', data: { preference, exchange } }),
      };
    }
    case 'SRV': {
      if (fields.length !== 4) return bad();
      const [priority, weight, port] = fields.slice(0, 3).map((f) => parseUint(f, 65535));
      if (priority == null || weight == null || port == null) {
        return bad('SRV priority, weight and port must be whole numbers from 0 to 65535');
      }
      const targetText = fields[3] ?? '';
      // RFC 2782: a target of '.' says the service is decidedly not available here.
      const target = parseTarget(targetText, true);
      if (target === null) return bad(`SRV target '${targetText}' is not a valid domain name`);
      return {
        data: `${priority} ${weight} ${port} ${target}`,
        answer: (name, ttl) => ({
          name,
          type,
          ttl,
          class: 'IN',
          data: { priority, weight, port, target },
        }),
      };
    }
    case 'CAA':
      return parseCaa(fields);
    case 'TLSA':
      return parseTlsa(fields);
  }
}

function parseTxt(text: string): ParsedData | { error: string } {
  // Zone-file style `"v=DKIM1; …" "p=…"`, as providers hand out long keys: the
  // strings are joined, as SPF and DKIM readers join them (RFC 7208 §3.3).
  const value = /^"[^"\\]*"(?:\s+"[^"\\]*")*$/.test(text)
    ? [...text.matchAll(/"([^"\\]*)"/g)].map((m) => m[1]).join('')
    : text;
  if (value === '') return { error: 'TXT data must not be empty' };
  if (hasControlCharacter(value)) {
    return { error: 'TXT data must not contain line breaks, tabs or other control characters' };
  }
  const characters = [...value];
  if (characters.length > maxTxtCharacters) {
    return { error: `TXT data must be at most ${maxTxtCharacters} characters` };
  }
  // RFC 1035 §3.3.14: character strings of at most 255 octets; split between
  // characters, never inside one, so each piece is valid UTF-8 on its own.
  const strings: Buffer[] = [];
  let piece = '';
  for (const ch of characters) {
    if (Buffer.byteLength(piece) + Buffer.byteLength(ch) > 255) {
      strings.push(Buffer.from(piece));
      piece = '';
    }
    piece += ch;
  }
  strings.push(Buffer.from(piece));
  return {
    data: value,
    answer: (name, ttl) => ({ name, type: 'TXT', ttl, class: 'IN', data: strings }),
  };
}

const hasControlCharacter = (text: string): boolean =>
  [...text].some((ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code < 0x20 || code === 0x7f;
  });

const caaTags = ['issue', 'issuewild', 'iodef'] as const;

function parseCaa(fields: string[]): ParsedData | { error: string } {
  const [flagsText, tagText, value] = fields;
  if (flagsText === undefined || tagText === undefined || value === undefined) {
    return { error: usage.CAA };
  }
  if (fields.length > 3) return { error: 'CAA value must be in double quotes when it has spaces' };
  // RFC 8659 §4.1: flags 0, or 128 for "issuer critical"; the other bits are reserved.
  const flags = parseUint(flagsText, 255);
  if (flags === null)
    return { error: 'CAA flags must be a whole number from 0 to 255 (0, or 128 for critical)' };
  const tag = caaTags.find((t) => t === tagText.toLowerCase());
  if (tag === undefined) return { error: `CAA tag '${tagText}' must be issue, issuewild or iodef` };
  if (!/^[\x20-\x7e]*$/.test(value)) return { error: 'CAA value must be plain printable ASCII' };
  if (tag === 'iodef') {
    // RFC 8659 §4.4: where CAs report refused requests, a mailto: or http(s): URL.
    if (!/^(mailto|https?):/i.test(value) || !URL.canParse(value)) {
      return {
        error:
          'CAA iodef value must be a mailto: or https: URL, like "mailto:security@example.org"',
      };
    }
  } else {
    // RFC 8659 §4.2: the CA's domain (empty: no CA may issue), then optional `; key=value` parameters.
    const [issuer = '', ...parameters] = value.split(';');
    if (issuer.trim() !== '' && normalizeName(issuer.trim()) === null) {
      return {
        error: `CAA ${tag} value must start with the CA's domain name, like "letsencrypt.org"`,
      };
    }
    if (!parameters.every((p) => /^\s*([A-Za-z0-9]+=[\x21-\x3a\x3c-\x7e]*)?\s*$/.test(p))) {
      return {
        error: `CAA ${tag} parameters must be '; key=value', like "letsencrypt.org; validationmethods=dns-01"`,
      };
    }
  }
  return {
    data: `${flags} ${tag} "${value}"`,
    answer: (name, ttl) => ({ name, type: 'CAA', ttl, class: 'IN', data: { flags, tag, value } }),
  };
}

/** RFC 6698 §2.1: the digest sizes of matching types 1 (SHA-256) and 2 (SHA-512). */
const tlsaDigestBytes: Record<number, number> = { 1: 32, 2: 64 };

function parseTlsa(fields: string[]): ParsedData | { error: string } {
  const [usageText, selectorText, matchingText, ...hexParts] = fields;
  if (
    usageText === undefined ||
    selectorText === undefined ||
    matchingText === undefined ||
    hexParts.length === 0
  ) {
    return { error: usage.TLSA };
  }
  const certUsage = parseUint(usageText, 3);
  if (certUsage === null) return { error: 'TLSA usage must be 0, 1, 2 or 3' };
  const selector = parseUint(selectorText, 1);
  if (selector === null)
    return { error: 'TLSA selector must be 0 (whole certificate) or 1 (public key)' };
  const matchingType = parseUint(matchingText, 2);
  if (matchingType === null)
    return { error: 'TLSA matching type must be 0 (exact), 1 (SHA-256) or 2 (SHA-512)' };
  // Zone files often break long hex into groups; the spaces carry nothing.
  const hex = hexParts.join('').toLowerCase();
  if (!/^(?:[0-9a-f]{2})+$/.test(hex))
    return { error: 'TLSA certificate data must be hexadecimal, two digits a byte' };
  const expected = tlsaDigestBytes[matchingType];
  if (expected !== undefined && hex.length !== expected * 2) {
    return {
      error: `TLSA matching type ${matchingType} needs a ${expected}-byte digest (${expected * 2} hex digits), not ${hex.length / 2} bytes`,
    };
  }
  const certificate = Buffer.from(hex, 'hex');
  return {
    data: `${certUsage} ${selector} ${matchingType} ${hex}`,
    answer: (name, ttl) => ({
      name,
      type: 'TLSA',
      ttl,
      class: 'IN',
      data: { usage: certUsage, selector, matchingType, certificate },
    }),
  };
}
