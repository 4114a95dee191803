import {
  nameToWire,
  parseIPv4,
  parseIPv6,
  parseTarget,
  parseUint,
  tokenize,
} from './presentation.ts';

/**
 * SVCB and HTTPS records (RFC 9460): presentation form to canonical text and
 * wire bytes. dns-packet does not know these types, so the resolver sends
 * the RDATA we build here as an opaque blob.
 */

/** The SvcParamKeys we accept, with their numbers (RFC 9460 §14.3.2); the wire orders by number. */
const keyNumbers = {
  mandatory: 0,
  alpn: 1,
  'no-default-alpn': 2,
  port: 3,
  ipv4hint: 4,
  ech: 5,
  ipv6hint: 6,
} as const;
type Key = keyof typeof keyNumbers;

const isKey = (text: string): text is Key => Object.hasOwn(keyNumbers, text);
const keyList = 'alpn, no-default-alpn, port, ipv4hint, ipv6hint, ech or mandatory';

interface Param {
  key: Key;
  /** The value as we write it back; '' for no-default-alpn. */
  text: string;
  wire: Buffer;
}

export function parseServiceBinding(
  type: 'HTTPS' | 'SVCB',
  data: string,
): { data: string; rdata: Buffer } | { error: string } {
  const usage = `${type} data must be '<priority> <target> [key=value …]', like '1 . alpn=h2,h3 port=443'`;
  const read = tokenize(data);
  if ('error' in read) return { error: `${type} data: ${read.error}` };
  const [priorityText, targetText, ...paramTexts] = read.tokens;
  if (priorityText === undefined || targetText === undefined) return { error: usage };
  const priority = parseUint(priorityText, 65535);
  if (priority === null)
    return { error: `${type} priority must be a whole number from 0 to 65535` };
  const target = parseTarget(targetText, true);
  if (target === null) {
    return {
      error: `${type} target '${targetText}' must be a domain name, or '.' for the owner name`,
    };
  }
  // RFC 9460 §2.4.2: AliasMode only points elsewhere; its parameters would be ignored.
  if (priority === 0 && paramTexts.length > 0) {
    return { error: `${type} priority 0 (alias mode) takes no key=value parameters` };
  }

  const params = new Map<Key, Param>();
  for (const paramText of paramTexts) {
    const at = paramText.indexOf('=');
    const name = (at < 0 ? paramText : paramText.slice(0, at)).toLowerCase();
    const value = at < 0 ? null : paramText.slice(at + 1);
    if (!isKey(name)) return { error: `${type} key '${name}' is not supported: use ${keyList}` };
    if (params.has(name)) return { error: `${type} key '${name}' appears more than once` };
    const param = parseParam(name, value);
    if ('error' in param) return { error: `${type} ${param.error}` };
    params.set(name, param);
  }

  // RFC 9460 §7.1.1: without alpn, no-default-alpn would leave no protocol at all.
  if (params.has('no-default-alpn') && !params.has('alpn')) {
    return { error: `${type} no-default-alpn needs an alpn list too` };
  }
  // RFC 9460 §8: a key listed as mandatory must be present.
  for (const key of params.get('mandatory')?.text.split(',') ?? []) {
    if (!params.has(key as Key)) {
      return { error: `${type} mandatory lists '${key}', but the record has no ${key}` };
    }
  }

  const sorted = [...params.values()].sort((a, b) => keyNumbers[a.key] - keyNumbers[b.key]);
  const parts = [Buffer.alloc(2), nameToWire(target)];
  parts[0]?.writeUInt16BE(priority);
  for (const param of sorted) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(keyNumbers[param.key], 0);
    head.writeUInt16BE(param.wire.length, 2);
    parts.push(head, param.wire);
  }
  const rdata = Buffer.concat(parts);
  if (rdata.length > 65535) return { error: `${type} data is too long for one record` };
  const text = sorted.map((p) => (p.text === '' ? p.key : `${p.key}=${p.text}`));
  return { data: [priority, target, ...text].join(' '), rdata };
}

function parseParam(key: Key, value: string | null): Param | { error: string } {
  if (key === 'no-default-alpn') {
    if (value !== null && value !== '') return { error: 'no-default-alpn takes no value' };
    return { key, text: '', wire: Buffer.alloc(0) };
  }
  if (value === null || value === '')
    return { error: `${key} needs a value, like ${example[key]}` };
  const items = value.split(',');
  switch (key) {
    case 'alpn': {
      // Protocol ids as in the TLS ALPN registry (h2, h3, http/1.1); no escapes, so no commas.
      const ok = items.every((id) => /^[\x21-\x7e]{1,255}$/.test(id));
      if (!ok)
        return {
          error: `alpn must be a comma-separated list of protocol ids, like ${example.alpn}`,
        };
      const wire = Buffer.concat(
        items.map((id) => Buffer.concat([Buffer.from([id.length]), Buffer.from(id)])),
      );
      return { key, text: items.join(','), wire };
    }
    case 'port': {
      const port = parseUint(value, 65535);
      if (port === null) return { error: 'port must be a whole number from 0 to 65535' };
      const wire = Buffer.alloc(2);
      wire.writeUInt16BE(port);
      return { key, text: String(port), wire };
    }
    case 'ipv4hint': {
      const addresses = items.map(parseIPv4);
      if (addresses.some((a) => a === null)) {
        return {
          error: `ipv4hint must be a comma-separated list of IPv4 addresses, like ${example.ipv4hint}`,
        };
      }
      return { key, text: items.join(','), wire: Buffer.from(addresses.flatMap((a) => a ?? [])) };
    }
    case 'ipv6hint': {
      const addresses = items.map(parseIPv6);
      const parsed = addresses.filter((a) => a !== null);
      if (parsed.length !== items.length) {
        return {
          error: `ipv6hint must be a comma-separated list of IPv6 addresses, like ${example.ipv6hint}`,
        };
      }
      return {
        key,
        text: parsed.map((a) => a.text).join(','),
        wire: Buffer.concat(parsed.map((a) => a.bytes)),
      };
    }
    case 'ech': {
      // An ECHConfigList (RFC 9460 §9), base64 as `dig` prints it; strict, so a typo is not silently dropped.
      const wire = Buffer.from(value, 'base64');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || wire.toString('base64') !== value) {
        return { error: 'ech must be the ECHConfigList in base64' };
      }
      return { key, text: value, wire };
    }
    case 'mandatory': {
      const keys: Key[] = [];
      for (const item of items) {
        const name = item.toLowerCase();
        if (!isKey(name))
          return { error: `mandatory lists '${item}', which is not a key: use ${keyList}` };
        if (name === 'mandatory') return { error: 'mandatory cannot list itself' };
        if (keys.includes(name)) return { error: `mandatory lists '${name}' more than once` };
        keys.push(name);
      }
      keys.sort((a, b) => keyNumbers[a] - keyNumbers[b]);
      const wire = Buffer.alloc(keys.length * 2);
      keys.forEach((k, i) => {
        wire.writeUInt16BE(keyNumbers[k], i * 2);
      });
      return { key, text: keys.join(','), wire };
    }
  }
}

const example: Record<Exclude<Key, 'no-default-alpn'>, string> = {
  mandatory: 'mandatory=alpn',
  alpn: 'alpn=h2,h3',
  port: 'port=443',
  ipv4hint: 'ipv4hint=192.0.2.1,192.0.2.2',
  ipv6hint: 'ipv6hint=2001:db8::1',
  ech: 'ech=AEX+DQBB…',
};
