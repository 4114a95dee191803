import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { ResponseCache } from './cache.ts';
import { LruMap } from './lru.ts';
import { readQuestion, readRecords, soaMinimum, ttlOffsets } from './wire.ts';

const A = 1;
const IN = 1;
const T0 = 1_700_000_000_000;

function encode(packet: dnsPacket.Packet): Uint8Array {
  return new Uint8Array(dnsPacket.encode(packet));
}

function decode(bytes: Uint8Array): dnsPacket.DecodedPacket {
  return dnsPacket.decode(Buffer.from(bytes));
}

/** The TTLs of decoded records (the OPT pseudo-record has none). */
function ttls(records: dnsPacket.Answer[] | undefined): (number | undefined)[] {
  return (records ?? []).map((r) => ('ttl' in r ? r.ttl : undefined));
}

const soa = {
  name: 'example.com',
  type: 'SOA',
  ttl: 900,
  data: {
    mname: 'ns1.example.com',
    rname: 'hostmaster.example.com',
    serial: 2024010101,
    refresh: 7200,
    retry: 3600,
    expire: 1209600,
    minimum: 300,
  },
} as const;

const rcodes = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

function response(
  rcode: keyof typeof rcodes,
  answers: dnsPacket.Answer[],
  authorities: dnsPacket.Answer[] = [],
  flags = 0,
): Uint8Array {
  return encode({
    type: 'response',
    id: 7,
    // dns-packet encodes the RCODE from the flags only (its `rcode` is decode-side).
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | flags | rcodes[rcode],
    questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }],
    answers,
    authorities,
    additionals: [
      {
        name: '.',
        type: 'OPT',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  });
}

const twoAnswers = () =>
  response('NOERROR', [
    { name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.1' },
    { name: 'www.example.com', type: 'A', ttl: 60, data: '192.0.2.2' },
  ]);

const key = ResponseCache.key('www.example.com', A, IN, false);

/**
 * `dig www.example.com A +norec` against a server that compresses names,
 * written out by hand: a CNAME whose owner points at the question and whose
 * target points into it, an A record owned by that pointer, and an OPT.
 */
const compressed = Buffer.from(
  [
    '1234 8180 0001 0002 0000 0001',
    '03777777 076578616d706c65 03636f6d 00 0001 0001', // www.example.com A IN (12..32)
    'c00c 0005 0001 00000e10 0002 c010', // CNAME 3600 -> example.com (at 16)
    'c010 0001 0001 0000012c 0004 5db8d70e', // example.com A 300 93.184.215.14
    '00 0029 04d0 00000000 0000', // OPT, 1232 bytes
  ]
    .join('')
    .replaceAll(' ', ''),
  'hex',
);

describe('wire format', () => {
  it('reads the header and question, lower-casing the name', () => {
    const query = encode({
      type: 'query',
      id: 0xbeef,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: 'WwW.ExAmPle.CoM', type: 'AAAA', class: 'IN' }],
    });
    const q = readQuestion(query);
    assert.ok(q);
    assert.equal(q.id, 0xbeef);
    assert.equal(q.name, 'www.example.com');
    assert.equal(q.type, 28);
    assert.equal(q.class, IN);
    assert.equal(q.questionEnd, query.length);
    assert.deepEqual([q.qdcount, q.ancount, q.nscount, q.arcount], [1, 0, 0, 0]);
  });

  it('reads the root as an empty name and escapes dots inside labels', () => {
    const root = Buffer.from('000101000001000000000000' + '00' + '00020001', 'hex');
    assert.equal(readQuestion(root)?.name, '');
    const dotted = Buffer.from('000101000001000000000000' + '03612e6200' + '00010001', 'hex');
    assert.equal(readQuestion(dotted)?.name, 'a\\046b');
  });

  it('refuses pointers, long labels, long names, truncation and qdcount ≠ 1', () => {
    const header = '000101000001000000000000';
    const bad = [
      `${header}c00c00010001`, // a pointer in the question
      `${header}40${'61'.repeat(64)}0000010001`, // a 64-octet label
      `${header}${`3f${'61'.repeat(63)}`.repeat(4)}0000010001`, // 257 octets
      `${header}03777777`, // cut inside the name
      `${header}0377777700000100`, // cut inside QCLASS
      '000101000002000000000000' + '0000010001', // two questions
      '000101000000000000000000' + '0000010001', // none
    ];
    for (const hex of bad) assert.equal(readQuestion(Buffer.from(hex, 'hex')), null, hex);
    // 255 octets exactly is allowed: 3 × 64 + 62 + the root.
    const max = `${header}${`3f${'61'.repeat(63)}`.repeat(3)}3d${'61'.repeat(61)}0000010001`;
    assert.ok(readQuestion(Buffer.from(max, 'hex')));
  });

  it('finds the TTLs behind compression pointers and skips the OPT', () => {
    const decoded = decode(compressed);
    assert.equal(decoded.answers?.[1]?.name, 'example.com', 'the capture is well formed');
    assert.deepEqual(ttlOffsets(compressed), [39, 53]);
    const records = readRecords(compressed);
    assert.deepEqual(
      records?.map((r) => [r.section, r.type, r.ttl]),
      [
        ['answer', 5, 3600],
        ['answer', 1, 300],
        ['additional', 41, 0],
      ],
    );
  });

  it('reads the SOA MINIMUM of a negative answer', () => {
    const nx = response('NXDOMAIN', [], [soa]);
    const record = readRecords(nx)?.find((r) => r.type === 6);
    assert.ok(record);
    assert.equal(soaMinimum(nx, record), 300);
  });

  it('refuses forward pointers, overlong RDATA and missing records', () => {
    const forward = Buffer.from(compressed);
    forward[33] = 0xc0;
    forward[34] = 0x40; // points past itself
    assert.equal(ttlOffsets(forward), null);
    const long = Buffer.from(compressed);
    long[44] = 0x30; // CNAME RDLENGTH beyond the message
    assert.equal(ttlOffsets(long), null);
    assert.equal(ttlOffsets(compressed.subarray(0, 60)), null);
    assert.equal(ttlOffsets(compressed.subarray(0, 5)), null);
  });

  it('never throws on random bytes, nor on mutated real messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        readQuestion(bytes);
        ttlOffsets(bytes);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(compressed.length - 1), fc.integer({ min: 0, max: 255 })), {
          maxLength: 4,
        }),
        fc.nat(compressed.length),
        (edits, cut) => {
          const bytes = new Uint8Array(compressed.subarray(0, cut));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          const offsets = ttlOffsets(bytes);
          for (const offset of offsets ?? []) assert.ok(offset + 4 <= bytes.length);
          const cache = new ResponseCache();
          if (cache.set(key, bytes, T0)) cache.get(key, T0 + 1000, { id: 1, allowStale: true });
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('response cache', () => {
  it('counts each answer TTL down; the smallest decides expiry', () => {
    const cache = new ResponseCache();
    assert.equal(cache.set(key, twoAnswers(), T0), true);
    const hit = cache.get(key, T0 + 30_500, { id: 99, allowStale: false });
    assert.ok(hit);
    assert.equal(hit.stale, false);
    const decoded = decode(hit.response);
    assert.equal(decoded.id, 99);
    assert.deepEqual(ttls(decoded.answers), [270, 30]);
    assert.equal(hit.expiresInMs, 29_500);
    assert.equal(hit.lifetimeMs, 60_000);
    assert.equal(cache.get(key, T0 + 60_000, { id: 1, allowStale: false }), undefined);
  });

  it('leaves the OPT record alone, or strips it when asked', () => {
    const cache = new ResponseCache();
    cache.set(key, twoAnswers(), T0);
    const kept = decode(
      cache.get(key, T0 + 10_000, { id: 1, allowStale: false })?.response ?? new Uint8Array(),
    );
    const opt = kept.additionals?.[0] as dnsPacket.OptAnswer | undefined;
    assert.equal(opt?.type, 'OPT');
    assert.equal(opt?.udpPayloadSize, 1232);
    assert.equal(opt?.flags, 0);
    const hit = cache.get(key, T0 + 10_000, { id: 1, allowStale: false, stripOpt: true });
    assert.ok(hit);
    const stripped = decode(hit.response);
    assert.deepEqual(stripped.additionals, []);
    assert.deepEqual(ttls(stripped.answers), [290, 50]);
  });

  it('handles compressed answers: TTLs rewritten in place, names intact', () => {
    const cache = new ResponseCache();
    assert.equal(cache.set(key, compressed, T0), true);
    const hit = cache.get(key, T0 + 100_000, { id: 5, allowStale: false });
    assert.ok(hit);
    const decoded = decode(hit.response);
    assert.deepEqual(
      decoded.answers?.map((a) => [a.name, 'ttl' in a ? a.ttl : undefined]),
      [
        ['www.example.com', 3500],
        ['example.com', 200],
      ],
    );
    assert.equal(hit.lifetimeMs, 300_000);
  });

  it('writes the caller’s id and question bytes (0x20 letter case)', () => {
    const cache = new ResponseCache();
    cache.set(key, twoAnswers(), T0);
    const query = encode({
      type: 'query',
      id: 4242,
      questions: [{ name: 'wWw.EXample.cOm', type: 'A', class: 'IN' }],
    });
    const q = readQuestion(query);
    assert.ok(q);
    const question = query.subarray(12, q.questionEnd);
    const hit = cache.get(key, T0, { id: q.id, allowStale: false, question });
    assert.ok(hit);
    const decoded = decode(hit.response);
    assert.equal(decoded.id, 4242);
    assert.equal(decoded.questions?.[0]?.name, 'wWw.EXample.cOm');
    // A question of another length is ignored rather than corrupting the answer.
    const other = cache.get(key, T0, { id: 1, allowStale: false, question: new Uint8Array(3) });
    assert.equal(
      decode(other?.response ?? new Uint8Array()).questions?.[0]?.name,
      'www.example.com',
    );
  });

  it('returns a copy: changing it does not change the cache', () => {
    const cache = new ResponseCache();
    cache.set(key, twoAnswers(), T0);
    const first = cache.get(key, T0, { id: 1, allowStale: false });
    first?.response.fill(0);
    const second = cache.get(key, T0, { id: 1, allowStale: false });
    assert.equal(decode(second?.response ?? new Uint8Array()).answers?.length, 2);
  });

  it('caches NXDOMAIN for min(SOA TTL, SOA MINIMUM) with the SOA counting down', () => {
    const cache = new ResponseCache();
    assert.equal(cache.set(key, response('NXDOMAIN', [], [soa]), T0), true);
    const hit = cache.get(key, T0 + 100_000, { id: 1, allowStale: false });
    assert.ok(hit);
    const decoded = decode(hit.response);
    assert.equal((decoded.flags ?? 0) & 0xf, 3, 'NXDOMAIN');
    assert.deepEqual(ttls(decoded.authorities), [200], 'the SOA says the negative TTL, 300 - 100');
    assert.equal(cache.get(key, T0 + 300_000, { id: 1, allowStale: false }), undefined);
    // The SOA's own TTL wins when smaller.
    cache.set(key, response('NXDOMAIN', [], [{ ...soa, ttl: 120 }]), T0);
    assert.equal(cache.get(key, T0 + 120_000, { id: 1, allowStale: false }), undefined);
  });

  it('caches NODATA from the SOA, capped at negativeMaxTtl', () => {
    const cache = new ResponseCache({ negativeMaxTtl: 60 });
    const big = { ...soa, ttl: 86_400, data: { ...soa.data, minimum: 86_400 } };
    assert.equal(cache.set(key, response('NOERROR', [], [big]), T0), true);
    assert.ok(cache.get(key, T0 + 59_000, { id: 1, allowStale: false }));
    assert.equal(cache.get(key, T0 + 60_000, { id: 1, allowStale: false }), undefined);
  });

  it('caches a CNAME that ends in NODATA for the smaller of both lifetimes', () => {
    const cache = new ResponseCache();
    const cname = {
      name: 'www.example.com',
      type: 'CNAME',
      ttl: 3600,
      data: 'example.com',
    } as const;
    assert.equal(cache.set(key, response('NOERROR', [cname], [soa]), T0), true);
    assert.equal(cache.get(key, T0, { id: 1, allowStale: false })?.lifetimeMs, 300_000);
  });

  it('does not cache failures, truncation, negatives without an SOA or TTL 0', () => {
    const cache = new ResponseCache();
    const a = { name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.1' } as const;
    assert.equal(cache.set(key, response('SERVFAIL', []), T0), false);
    assert.equal(cache.set(key, response('REFUSED', []), T0), false);
    assert.equal(cache.set(key, response('FORMERR', []), T0), false);
    assert.equal(
      cache.set(key, response('NOERROR', [a], [], dnsPacket.TRUNCATED_RESPONSE), T0),
      false,
    );
    assert.equal(cache.set(key, response('NXDOMAIN', []), T0), false);
    assert.equal(cache.set(key, response('NOERROR', []), T0), false);
    assert.equal(cache.set(key, response('NOERROR', [{ ...a, ttl: 0 }]), T0), false);
    const query = encode({ type: 'query', id: 1, questions: [{ name: 'a.example', type: 'A' }] });
    assert.equal(cache.set(key, query, T0), false, 'a query is not a response');
    assert.equal(cache.set(key, compressed.subarray(0, 50), T0), false);
    assert.equal(cache.size, 0);
  });

  it('applies minTtl and maxTtl to lifetimes and handed-out TTLs', () => {
    const cache = new ResponseCache({ minTtl: 30, maxTtl: 100 });
    const a = { name: 'www.example.com', type: 'A', ttl: 5, data: '192.0.2.1' } as const;
    cache.set(key, response('NOERROR', [a]), T0);
    const low = cache.get(key, T0 + 20_000, { id: 1, allowStale: false });
    assert.equal(low?.lifetimeMs, 30_000);
    assert.deepEqual(ttls(decode(low?.response ?? new Uint8Array()).answers), [0]);
    cache.set(key, response('NOERROR', [{ ...a, ttl: 1000 }]), T0);
    const high = cache.get(key, T0, { id: 1, allowStale: false });
    assert.equal(high?.lifetimeMs, 100_000);
    assert.deepEqual(ttls(decode(high?.response ?? new Uint8Array()).answers), [100]);
  });

  it('serves stale answers only when allowed and within the window, with TTL 30', () => {
    const cache = new ResponseCache({ staleWindow: 3600 });
    cache.set(key, twoAnswers(), T0);
    const later = T0 + 60_000 + 1_000_000;
    assert.equal(cache.get(key, later, { id: 1, allowStale: false }), undefined);
    const stale = cache.get(key, later, { id: 1, allowStale: true });
    assert.ok(stale);
    assert.equal(stale.stale, true);
    assert.equal(stale.expiresInMs, -1_000_000);
    assert.deepEqual(ttls(decode(stale.response).answers), [30, 30]);
    const opt = decode(stale.response).additionals?.[0] as dnsPacket.OptAnswer | undefined;
    assert.equal(opt?.flags, 0, 'the OPT flags are not a TTL');
    assert.equal(cache.get(key, T0 + 60_000 + 3_600_001, { id: 1, allowStale: true }), undefined);
    assert.equal(cache.size, 0, 'past the window the entry is gone');
  });

  it('evicts the least recently used entry', () => {
    const cache = new ResponseCache({ maxEntries: 2 });
    const keys = ['a', 'b', 'c'].map((n) => ResponseCache.key(`${n}.example`, A, IN, false));
    const [ka, kb, kc] = keys as [string, string, string];
    cache.set(ka, twoAnswers(), T0);
    cache.set(kb, twoAnswers(), T0);
    assert.ok(cache.get(ka, T0, { id: 1, allowStale: false }), 'touch a');
    cache.set(kc, twoAnswers(), T0);
    assert.equal(cache.size, 2);
    assert.ok(cache.get(ka, T0, { id: 1, allowStale: false }));
    assert.equal(cache.get(kb, T0, { id: 1, allowStale: false }), undefined);
    assert.ok(cache.get(kc, T0, { id: 1, allowStale: false }));
    cache.delete(kc);
    assert.equal(cache.size, 1);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
  });

  it('bounds the bytes held as well as the entries', () => {
    const one = twoAnswers();
    const maxBytes = 4 * (one.length + 400);
    const cache = new ResponseCache({ maxBytes });
    for (let i = 0; i < 10; i++)
      cache.set(ResponseCache.key(`${i}.example`, A, IN, false), one, T0);
    assert.ok(cache.size >= 4 && cache.size < 10, `size ${cache.size}`);
    assert.ok(cache.bytes <= maxBytes);
    // The newest survive.
    assert.ok(
      cache.get(ResponseCache.key('9.example', A, IN, false), T0, { id: 1, allowStale: false }),
    );
    assert.equal(new ResponseCache({ maxBytes: 100 }).set(key, one, T0), false, 'too big to keep');
  });

  it('keys separate DO and class, and parse back', () => {
    assert.notEqual(
      ResponseCache.key('a.example', A, IN, true),
      ResponseCache.key('a.example', A, IN, false),
    );
    assert.deepEqual(ResponseCache.parseKey(ResponseCache.key('x:y.example', 28, IN, true)), {
      name: 'x:y.example',
      type: 28,
      klass: IN,
      dnssecOk: true,
    });
    assert.equal(ResponseCache.parseKey('nonsense'), null);
  });

  it('lists entries due for a refresh', () => {
    const cache = new ResponseCache();
    const soon = ResponseCache.key('soon.example', A, IN, false);
    const later = ResponseCache.key('later.example', A, IN, false);
    cache.set(soon, twoAnswers(), T0); // 60 s
    cache.set(later, compressed, T0); // 300 s
    assert.deepEqual(cache.refreshCandidates(T0 + 50_000, 10_000), [soon]);
    assert.deepEqual(cache.refreshCandidates(T0 + 295_000, 10_000), [soon, later]);
  });
});

describe('LRU map', () => {
  it('evicts the least recently used, counting get and set as uses', () => {
    const lru = new LruMap<string, number>();
    for (const [k, v] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const) {
      lru.set(k, v);
    }
    assert.equal(lru.get('a'), 1); // order now b, c, a
    assert.equal(lru.peek('b'), 2); // peeking is not a use
    lru.set('c', 30); // order b, a, c
    assert.deepEqual(
      [...lru.entries()],
      [
        ['b', 2],
        ['a', 1],
        ['c', 30],
      ],
    );
    assert.deepEqual(lru.shift(), ['b', 2]);
    assert.equal(lru.delete('c'), 30);
    assert.equal(lru.delete('c'), undefined);
    assert.deepEqual([...lru.entries()], [['a', 1]]);
    assert.equal(lru.size, 1);
    assert.deepEqual(lru.shift(), ['a', 1]);
    assert.equal(lru.shift(), undefined);
    lru.set('z', 26);
    lru.clear();
    assert.equal(lru.size, 0);
    assert.deepEqual([...lru.entries()], []);
  });
});
