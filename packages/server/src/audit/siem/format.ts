import type { AuditEntry } from '../ledger/entry.ts';

/**
 * One ledger entry as one RFC 5424 syslog message, framed for RFC 5425
 * (syslog over TLS) by octet counting.
 *
 * Facility 13, "log audit" (RFC 5424 §6.2.1, table 1): the ledger is the
 * installation's audit trail — every recorded change, not only sign-ins —
 * so it belongs with audit logs. authpriv (10) is for private
 * authorisation messages (sshd, sudo) and is usually written to a local
 * root-only file; mixing the ledger into it would hide it there and bury
 * those. Severity 5, notice: a normal but significant condition.
 */
export const SYSLOG_FACILITY_LOG_AUDIT = 13;
export const SYSLOG_SEVERITY_NOTICE = 5;
export const SYSLOG_PRI = SYSLOG_FACILITY_LOG_AUDIT * 8 + SYSLOG_SEVERITY_NOTICE;
export const SYSLOG_APP_NAME = 'bulwark';
export const NILVALUE = '-';

/** The SD-ID is `bulwark@<enterpriseId>`; 32473 is IANA's example number (RFC 5612). */
export const DEFAULT_ENTERPRISE_ID = '32473';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface SyslogFormatOptions {
  /** HOSTNAME: made printable US-ASCII (at most 255 characters); NILVALUE when nothing is left. */
  hostname: string;
  /** Private enterprise number of the SD-ID; default 32473. */
  enterpriseId?: string;
}

/** An entry as stored: its canonical JSON (what the leaf hash covers) and that leaf hash. */
export interface LedgerRecord {
  seq: number;
  /** The entry's canonical JSON (RFC 8785), byte for byte as stored. */
  text: string;
  /** Hex SHA-256(0x00 ‖ text), as stored at append time. */
  leafHash: string;
}

/**
 * `<109>1 TIMESTAMP HOSTNAME bulwark - MSGID [bulwark@PEN seq=… …] BOM{json}`.
 *
 * STRUCTURED-DATA repeats the fields a SIEM filters on; a field that is
 * null in the entry is left out (RFC 5424 has no null PARAM-VALUE, and
 * `""` or `"-"` would read as a value). MSG is the canonical entry JSON
 * exactly as stored, so SHA-256(0x00 ‖ MSG without the BOM) is its leaf
 * hash and the SIEM's copy can be checked against the ledger's proofs.
 */
export function formatEntry(record: LedgerRecord, opts: SyslogFormatOptions): Buffer {
  const entry = parseEntry(record.text);
  const header = [
    `<${SYSLOG_PRI}>1`,
    timestamp(entry?.time),
    syslogHostname(opts.hostname),
    SYSLOG_APP_NAME,
    NILVALUE,
    msgId(entry?.action),
  ].join(' ');
  const params: [string, unknown][] = [
    ['seq', record.seq],
    ['leafHash', record.leafHash],
    ['action', entry?.action],
    ['actorKind', entry?.actor?.kind],
    ['userId', entry?.actor?.userId],
    ['sessionId', entry?.actor?.sessionId],
    ['channel', entry?.actor?.channel],
    ['targetType', entry?.target?.type],
    ['targetId', entry?.target?.id],
    ['issue', entry?.issue],
    ['org', entry?.org],
    ['project', entry?.project],
  ];
  const sd = `[${sdId(opts.enterpriseId ?? DEFAULT_ENTERPRISE_ID)}${params
    .flatMap(([name, value]) => {
      const text = paramText(value);
      return text === null ? [] : [` ${name}="${escapeParamValue(text)}"`];
    })
    .join('')}]`;
  return Buffer.concat([Buffer.from(`${header} ${sd} `, 'utf8'), BOM, Buffer.from(record.text)]);
}

/** RFC 5425 §4.3 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function frameOctetCounting(message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${message.byteLength} `, 'ascii'), message]);
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, '\\$&');
}

/** HOSTNAME = 1*255PRINTUSASCII: anything else is dropped; NILVALUE when nothing is left. */
export function syslogHostname(name: string): string {
  const printable = name.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
  return printable === '' ? NILVALUE : printable;
}

/**
 * MSGID = 1*32PRINTUSASCII: the action, each other character as `_`, cut
 * at 32 (the whole action is in the structured data and the JSON).
 */
export function msgId(action: unknown): string {
  if (typeof action !== 'string') return NILVALUE;
  const id = Array.from(action, (c) => (/^[\x21-\x7e]$/.test(c) ? c : '_'))
    .join('')
    .slice(0, 32);
  return id === '' ? NILVALUE : id;
}

/** SD-ID `bulwark@<enterpriseId>`: SD-NAME characters only, at most 32 (RFC 5424 §6.3.2). */
export function sdId(enterpriseId: string): string {
  const id = `${SYSLOG_APP_NAME}@${enterpriseId}`;
  if (!/^[1-9][0-9]*(?:\.(?:0|[1-9][0-9]*))*$/.test(enterpriseId) || id.length > 32) {
    throw new Error(`not a usable private enterprise number for an SD-ID: ${enterpriseId}`);
  }
  return id;
}

/** RFC 3339 as RFC 5424 §6.2.3 restricts it (at most 6 fraction digits); NILVALUE otherwise. */
function timestamp(time: unknown): string {
  if (typeof time !== 'string') return NILVALUE;
  const ok =
    /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/.test(
      time,
    );
  return ok ? time : NILVALUE;
}

function paramText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * The entry's fields for the header and structured data. A stored entry
 * that does not parse (the ledger's verify names it) is still sent, with
 * NILVALUEs, rather than stopping the stream behind it.
 */
function parseEntry(text: string): Partial<AuditEntry> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Partial<AuditEntry>) : null;
  } catch {
    return null;
  }
}
