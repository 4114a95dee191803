import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leafHash, toHex } from '@bulwark/ledger';
import { type AuditEntry, type AuditEvent, buildEntry, encodeEntry } from '../ledger/entry.ts';
import {
  escapeParamValue,
  formatEntry,
  frameOctetCounting,
  type LedgerRecord,
  msgId,
  sdId,
  syslogHostname,
} from './format.ts';

const BOM = '\uFEFF';

function record(event: Partial<AuditEvent> = {}, seq = 7): LedgerRecord & { entry: AuditEntry } {
  const entry = buildEntry(
    seq,
    new Date('2026-11-25T14:01:02.345Z'),
    {
      action: 'user.create',
      actor: { kind: 'user', userId: 'u-1', sessionId: 's-1', source: '192.0.2.1', channel: 'api' },
      target: { type: 'user', id: 'u-2' },
      issue: null,
      after: { id: 'u-2' },
      ...event,
    },
    () => 'f'.repeat(64),
  );
  const text = encodeEntry(entry);
  return { seq, text, leafHash: toHex(leafHash(new TextEncoder().encode(text))), entry };
}

interface Parsed {
  pri: string;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sdId: string;
  params: Map<string, string>;
  msg: Buffer;
}

/** A strict RFC 5424 reader for one message with one SD-ELEMENT (what the formatter makes). */
function parse(bytes: Buffer): Parsed {
  const header =
    /^<(\d{1,3})>(\d) (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) \[/;
  const head = header.exec(bytes.toString('latin1'));
  assert.ok(head, `not an RFC 5424 header: ${bytes.toString('utf8')}`);
  let i = head[0].length;
  const byte = (k: number) => bytes[k] ?? -1;
  const readName = () => {
    const start = i;
    while (i < bytes.length && ![0x20, 0x3d, 0x5d, 0x22].includes(byte(i))) i += 1;
    const name = bytes.subarray(start, i).toString('ascii');
    assert.match(name, /^[\x21-\x7e]{1,32}$/, 'SD-NAME');
    return name;
  };
  const id = readName();
  const params = new Map<string, string>();
  while (byte(i) === 0x20) {
    i += 1;
    const name = readName();
    assert.equal(byte(i), 0x3d, '=');
    assert.equal(byte(i + 1), 0x22, 'opening quote');
    i += 2;
    const value: number[] = [];
    for (;;) {
      const c = byte(i);
      assert.notEqual(c, -1, 'unterminated PARAM-VALUE');
      if (c === 0x5c) {
        const next = byte(i + 1);
        // Only ", \ and ] are escaped; any other backslash is itself.
        if (next === 0x22 || next === 0x5c || next === 0x5d) {
          value.push(next);
          i += 2;
          continue;
        }
      }
      assert.notEqual(c, 0x5d, `an unescaped ] in ${name}`);
      if (c === 0x22) break;
      value.push(c);
      i += 1;
    }
    i += 1;
    assert.ok(!params.has(name), `${name} twice`);
    params.set(name, Buffer.from(value).toString('utf8'));
  }
  assert.equal(byte(i), 0x5d, 'closing ]');
  assert.equal(byte(i + 1), 0x20, 'SP before MSG');
  const [
    ,
    pri = '',
    version = '',
    timestamp = '',
    hostname = '',
    appName = '',
    procId = '',
    mid = '',
  ] = head;
  return {
    pri,
    version,
    timestamp,
    hostname,
    appName,
    procId,
    msgId: mid,
    sdId: id,
    params,
    msg: bytes.subarray(i + 2),
  };
}

describe('RFC 5424 message of a ledger entry', () => {
  it('has the header, the structured data and the canonical JSON as MSG', () => {
    const r = record();
    const m = parse(formatEntry(r, { hostname: 'bulwark.example.org' }));
    assert.equal(m.pri, '109', 'facility 13 (log audit) × 8 + severity 5 (notice)');
    assert.equal(m.version, '1');
    assert.equal(m.timestamp, '2026-11-25T14:01:02.345Z');
    assert.equal(m.hostname, 'bulwark.example.org');
    assert.equal(m.appName, 'bulwark');
    assert.equal(m.procId, '-');
    assert.equal(m.msgId, 'user.create');
    assert.equal(m.sdId, 'bulwark@32473');
    assert.deepEqual(Object.fromEntries(m.params), {
      seq: '7',
      leafHash: r.leafHash,
      action: 'user.create',
      actorKind: 'user',
      userId: 'u-1',
      sessionId: 's-1',
      channel: 'api',
      targetType: 'user',
      targetId: 'u-2',
    });
    const text = m.msg.toString('utf8');
    assert.ok(text.startsWith(BOM), 'MSG starts with the UTF-8 BOM');
    assert.equal(text.slice(1), r.text, 'the entry JSON byte for byte');
    // The SIEM's copy is checkable: its leaf hash is the ledger's.
    assert.equal(toHex(leafHash(m.msg.subarray(3))), r.leafHash);
  });

  it('escapes ", \\ and ] in PARAM-VALUEs and nothing else', () => {
    assert.equal(escapeParamValue('a"b\\c]d[e=f'), 'a\\"b\\\\c\\]d[e=f');
    const nasty = 'x"] [other@1 y="z\\';
    const r = record({ target: { type: 'doc]"', id: nasty }, issue: 'K-1\\"' });
    const bytes = formatEntry(r, { hostname: 'h' });
    const raw = bytes.toString('utf8');
    assert.ok(raw.includes('targetId="x\\"\\] [other@1 y=\\"z\\\\"'), raw);
    const m = parse(bytes);
    assert.equal(m.params.get('targetId'), nasty);
    assert.equal(m.params.get('targetType'), 'doc]"');
    assert.equal(m.params.get('issue'), 'K-1\\"');
    assert.equal(m.msg.subarray(3).toString('utf8'), r.text);
  });

  it('cuts a long action to 32 characters in MSGID and keeps it whole in the structured data', () => {
    const action = 'directory.partner-link.accept-invitation-and-more';
    const m = parse(formatEntry(record({ action }), { hostname: 'h' }));
    assert.equal(m.msgId, action.slice(0, 32));
    assert.equal(m.msgId.length, 32);
    assert.equal(m.params.get('action'), action);
  });

  it('keeps MSGID printable US-ASCII; non-ASCII values stay UTF-8 in the structured data and MSG', () => {
    const action = 'tâche.créer 🚀';
    const r = record({ action, target: { type: 'projet', id: 'Zürich—東京' } });
    const bytes = formatEntry(r, { hostname: 'h' });
    const m = parse(bytes);
    assert.equal(m.msgId, 't_che.cr_er__');
    assert.equal(m.params.get('action'), action);
    assert.equal(m.params.get('targetId'), 'Zürich—東京');
    assert.equal(m.msg.subarray(3).toString('utf8'), r.text);
    assert.equal(msgId(''), '-');
    assert.equal(msgId('ééé'), '___');
    assert.equal(msgId(undefined), '-');
  });

  it('writes NILVALUE for empty header fields and leaves null fields out of the structured data', () => {
    const r = record({
      actor: { kind: 'system', channel: 'system' },
      target: { type: 'installation', id: null },
      issue: null,
    });
    const m = parse(formatEntry(r, { hostname: ' \t\u00e9 ' }));
    assert.equal(m.hostname, '-');
    assert.deepEqual(
      [...m.params.keys()],
      ['seq', 'leafHash', 'action', 'actorKind', 'channel', 'targetType'],
    );
    assert.equal(m.params.get('actorKind'), 'system');
    assert.equal(m.procId, '-');
  });

  it('makes the host name printable US-ASCII of at most 255 characters', () => {
    assert.equal(syslogHostname('my host.example'), 'myhost.example');
    assert.equal(syslogHostname('hôte'), 'hte');
    assert.equal(syslogHostname('a'.repeat(300)).length, 255);
    assert.equal(syslogHostname(''), '-');
  });

  it('uses NILVALUE for a time RFC 5424 does not allow', () => {
    for (const time of [
      '+010000-01-01T00:00:00.000Z',
      '2026-11-25 14:01:02Z',
      '2026-11-25T14:01:02.1234567Z',
    ]) {
      const entry = { ...record().entry, time };
      const text = JSON.stringify(entry);
      const m = parse(formatEntry({ seq: 7, text, leafHash: 'ab' }, { hostname: 'h' }));
      assert.equal(m.timestamp, '-', time);
    }
    const ok = { ...record().entry, time: '2026-11-25T14:01:02+01:00' };
    const m = parse(
      formatEntry({ seq: 7, text: JSON.stringify(ok), leafHash: 'ab' }, { hostname: 'h' }),
    );
    assert.equal(m.timestamp, '2026-11-25T14:01:02+01:00');
  });

  it('still sends an entry that does not parse, with NILVALUEs, its seq and leaf hash', () => {
    const m = parse(formatEntry({ seq: 3, text: '{not json', leafHash: 'cd' }, { hostname: 'h' }));
    assert.equal(m.timestamp, '-');
    assert.equal(m.msgId, '-');
    assert.deepEqual(Object.fromEntries(m.params), { seq: '3', leafHash: 'cd' });
    assert.equal(m.msg.subarray(3).toString('utf8'), '{not json');
  });

  it('takes the enterprise number of the SD-ID from the configuration', () => {
    const m = parse(formatEntry(record(), { hostname: 'h', enterpriseId: '1.2.3' }));
    assert.equal(m.sdId, 'bulwark@1.2.3');
    assert.equal(sdId('32473'), 'bulwark@32473');
    for (const bad of ['', '0', 'abc', '1 2', '1]', '1'.repeat(25), '01']) {
      assert.throws(() => sdId(bad), /enterprise number/, bad);
    }
  });

  it('frames by octet counting: the length is in bytes, not characters', () => {
    const message = Buffer.from('<109>1 - - bulwark - - - ü');
    const framed = frameOctetCounting(message);
    assert.equal(framed.toString('utf8'), `${message.byteLength} <109>1 - - bulwark - - - ü`);
    assert.equal(message.byteLength, '<109>1 - - bulwark - - - ü'.length + 1, 'ü is two bytes');
    const r = record({ target: { type: 'user', id: '東京' } });
    const bytes = formatEntry(r, { hostname: 'h' });
    const f = frameOctetCounting(bytes);
    const space = f.indexOf(0x20);
    assert.equal(Number(f.subarray(0, space).toString('ascii')), f.byteLength - space - 1);
    assert.deepEqual(f.subarray(space + 1), bytes);
  });
});
