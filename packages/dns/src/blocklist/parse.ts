import { normalizeName } from '../names.ts';
import type { BlockAnswer } from '../types.ts';

/**
 * Block and allow lists in the formats people publish them in (issue 8):
 * hosts files, plain domain lists, Adblock-style DNS filters (`||x^`,
 * `@@||x^` exceptions, `/regex/`) and Response Policy Zones. A line that
 * does not parse is skipped and counted, never fatal: public lists carry
 * junk, and one bad line must not take the other million down.
 */

export type ListFormat = 'hosts' | 'domains' | 'adblock' | 'rpz';

/**
 * exact: the name only; subtree: the name and every name under it;
 * wildcard: names strictly under it (`*.example.com`, not `example.com`).
 */
export type NameMatch = 'exact' | 'subtree' | 'wildcard';

/**
 * `answer` is set only where the list itself says how to answer (RPZ's
 * NXDOMAIN, NODATA, drop, local data); otherwise the list's or the policy's
 * answer mode applies.
 */
export type ListRule =
  | { action: 'block' | 'allow'; match: NameMatch; name: string; answer?: BlockAnswer }
  | { action: 'block' | 'allow'; match: 'regex'; pattern: RegExp; source: string };

export interface ParsedList {
  rules: ListRule[];
  /** Lines that were not rules (comments and blanks are not counted). */
  skipped: number;
  /** The first few skipped lines and why, for the operator. */
  samples: { line: number; text: string; reason: string }[];
}

const maxSamples = 20;
/** Longer lines are not rules of any format we read (and regexes that long are a risk). */
const maxLineLength = 1024;

/** Names a hosts file maps for the machine itself, not to block. */
const hostsOwnNames = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
  '0.0.0.0',
]);

export function parseList(text: string, format: ListFormat): ParsedList {
  const rules: ListRule[] = [];
  const { skipped, samples } = readList(text, format, (rule) => rules.push(rule));
  return { rules, skipped, samples };
}

/**
 * The streaming form: each rule goes to `onRule` as its line is read, so a
 * million-line list is never held as a million rule objects (and not as a
 * million line strings either: lines are cut one at a time).
 */
export function readList(
  text: string,
  format: ListFormat,
  onRule: (rule: ListRule) => void,
): Omit<ParsedList, 'rules'> {
  const reader = new ListReader(text, format, onRule);
  while (reader.step(Number.POSITIVE_INFINITY));
  return reader.result;
}

/**
 * The same, giving the event loop back every `linesPerSlice` lines: a
 * million-line list is parsed in slices of a few milliseconds, so a refresh
 * never stops the resolver answering (one parse of 1M lines is ~2 s).
 */
export async function readListInSlices(
  text: string,
  format: ListFormat,
  onRule: (rule: ListRule) => void,
  linesPerSlice = 5000,
): Promise<Omit<ParsedList, 'rules'>> {
  const reader = new ListReader(text, format, onRule);
  while (reader.step(linesPerSlice)) await new Promise((resolve) => setImmediate(resolve));
  return reader.result;
}

class ListReader {
  readonly result: Omit<ParsedList, 'rules'> = { skipped: 0, samples: [] };
  readonly #text: string;
  readonly #parseLine: LineParser;
  readonly #onRule: (rule: ListRule) => void;
  readonly #state: RpzState = { origin: null, owner: null };
  #lineNumber = 0;
  #start = 0;

  constructor(text: string, format: ListFormat, onRule: (rule: ListRule) => void) {
    this.#text = text;
    this.#parseLine = lineParsers[format];
    this.#onRule = onRule;
  }

  /** Reads up to `lines` lines; false once the text is done. */
  step(lines: number): boolean {
    const text = this.#text;
    for (let n = 0; n < lines; n++) {
      if (this.#start > text.length) return false;
      let end = text.indexOf('\n', this.#start);
      if (end < 0) end = text.length;
      const cut = end > this.#start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      const raw = text.slice(this.#start, cut);
      this.#start = end + 1;
      this.#lineNumber += 1;
      if (raw.length > maxLineLength) {
        this.#skip(raw, `longer than ${maxLineLength} characters`);
        continue;
      }
      const parsed = this.#parseLine(raw, this.#state);
      if (parsed === null) continue;
      if (typeof parsed === 'string') this.#skip(raw, parsed);
      else for (const rule of parsed) this.#onRule(rule);
    }
    return this.#start <= text.length;
  }

  #skip(raw: string, reason: string): void {
    this.result.skipped += 1;
    if (this.result.samples.length < maxSamples) {
      this.result.samples.push({ line: this.#lineNumber, text: raw.slice(0, 120), reason });
    }
  }
}

const rpzCnameAnswers: Record<string, BlockAnswer> = {
  '.': 'nxdomain',
  '*.': 'nodata',
  'rpz-drop.': 'drop',
};

interface RpzState {
  origin: string | null;
  /** A record line that starts with blanks belongs to the previous owner (RFC 1035 §5.1). */
  owner: string | null;
}

/** null: nothing on the line (blank, comment); a string: why it was skipped. */
type LineParser = (raw: string, state: RpzState) => ListRule[] | string | null;

const lineParsers: Record<ListFormat, LineParser> = {
  hosts(raw) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return null;
    const [address, ...names] = line.split(/\s+/);
    if (address === undefined || names.length === 0) return 'a hosts line is an address and names';
    if (!/^[0-9a-f.:]+$/i.test(address)) return `"${address}" is not an address`;
    const rules: ListRule[] = [];
    for (const n of names) {
      const name = normalizeName(n);
      if (name === null) return `"${n}" is not a domain name`;
      if (!hostsOwnNames.has(name)) rules.push({ action: 'block', match: 'exact', name });
    }
    return rules;
  },

  domains(raw) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return null;
    const wildcard = line.startsWith('*.');
    const name = normalizeName(wildcard ? line.slice(2) : line);
    if (name === null) return `"${line}" is not a domain name`;
    return [{ action: 'block', match: wildcard ? 'wildcard' : 'subtree', name }];
  },

  adblock(raw) {
    const line = raw.trim();
    if (/^(##|#@#|#\?#|#\$#)/.test(line)) return 'a cosmetic (element-hiding) rule, not DNS';
    if (line === '' || line.startsWith('!') || line.startsWith('#') || line.startsWith('[')) {
      return null;
    }
    const allow = line.startsWith('@@');
    const body = allow ? line.slice(2) : line;
    const action = allow ? 'allow' : 'block';
    if (body.startsWith('/')) {
      const end = body.lastIndexOf('/');
      if (end <= 0) return 'an unterminated /regex/';
      if (body.slice(end + 1) !== '') return 'modifiers on a regex rule are not supported';
      const source = body.slice(1, end);
      try {
        return [{ action, match: 'regex', pattern: new RegExp(source, 'i'), source }];
      } catch {
        return `"${source}" is not a valid regular expression`;
      }
    }
    const rule = /^\|\|(\*\.)?([^/^$|*]+)\^(?:\$(.*))?$/.exec(body);
    if (!rule) return 'not a DNS rule (||name^ or @@||name^)';
    const [, star, domain, modifiers] = rule;
    // Modifiers narrow a rule to clients or record types we do not model; `important` is the
    // one that changes nothing for DNS. Anything else would block more than its author meant.
    if (modifiers !== undefined && modifiers !== 'important') {
      return `the modifier $${modifiers} is not supported`;
    }
    const name = normalizeName(domain ?? '');
    if (name === null) return `"${domain}" is not a domain name`;
    return [{ action, match: star ? 'wildcard' : 'subtree', name }];
  },

  rpz(raw, state) {
    const line = raw.replace(/;.*$/, '').trim();
    if (line === '') return null;
    const origin = /^\$ORIGIN\s+(\S+)$/i.exec(line);
    if (origin) {
      state.origin = normalizeName(origin[1] ?? '');
      return state.origin === null ? `"${origin[1]}" is not a zone name` : null;
    }
    if (line.startsWith('$')) return null; // $TTL and friends
    const inherits = /^\s/.test(raw);
    if (inherits && state.owner === null) return 'a record without an owner';
    const fields = inherits ? [state.owner as string, ...line.split(/\s+/)] : line.split(/\s+/);
    if (!inherits) state.owner = fields[0] ?? null;
    // owner [ttl] [class] type rdata
    let i = 1;
    while (
      i < fields.length &&
      (/^\d+$/.test(fields[i] ?? '') || /^(IN|CH|HS)$/i.test(fields[i] ?? ''))
    ) {
      i += 1;
    }
    const type = fields[i]?.toUpperCase();
    const rdata = fields[i + 1];
    if (type === undefined || rdata === undefined) return 'an RPZ record is owner, type and data';
    if (type === 'SOA' || type === 'NS') return null;
    let owner = fields[0] ?? '';
    // An absolute owner carries the policy zone's own name: the trigger is what precedes it.
    if (owner.endsWith('.') && state.origin !== null) {
      const absolute = normalizeName(owner);
      if (absolute?.endsWith(`.${state.origin}`)) {
        owner = absolute.slice(0, -(state.origin.length + 1));
      }
    }
    const wildcard = owner.startsWith('*.');
    const name = normalizeName(wildcard ? owner.slice(2) : owner);
    if (name === null) return `"${owner}" is not a domain name`;
    const match: NameMatch = wildcard ? 'wildcard' : 'exact';
    if (type === 'CNAME') {
      const target = rdata.toLowerCase();
      if (target === 'rpz-passthru.') return [{ action: 'allow', match, name }];
      // "." is NXDOMAIN, "*." NODATA, rpz-drop. no answer at all (RFC draft-vixie-dnsop-dns-rpz §3).
      const answer = rpzCnameAnswers[target];
      if (answer !== undefined) return [{ action: 'block', match, name, answer }];
      return `CNAME to "${rdata}" (local redirection) is not supported`;
    }
    // Local data (A 0.0.0.0 and the like): answered with the null address.
    if (type === 'A' || type === 'AAAA') return [{ action: 'block', match, name, answer: 'null' }];
    return `RPZ action ${type} is not supported`;
  },
};
