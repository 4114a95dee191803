/**
 * The shapes of the audit routes' JSON answers (docs/api.md, "Audit ledger"),
 * checked by hand: the protocol package has no audit schemas yet and the CLI
 * takes no zod dependency of its own. Each is a `Schema<T>` for the client.
 */
import type { Schema } from '../client.ts';

export interface AuditKeyAnswer {
  origin: string;
  verifierKey: string;
}

export interface InclusionAnswer {
  seq: number;
  size: number;
  /** Hex hashes, nearest sibling first. */
  proof: string[];
}

export interface ConsistencyAnswer {
  from: number;
  to: number;
  proof: string[];
}

/**
 * An entry as the server returns it: parsed from its stored canonical JSON,
 * or null when retention dropped its content (the leaf hash remains).
 */
export interface AuditEntryRecord {
  seq: number;
  entry: Record<string, unknown> | null;
  leafHash: string;
}

export interface AuditEntriesAnswer {
  entries: AuditEntryRecord[];
}

export interface SignedHeadRecord {
  size: number;
  rootHash: string;
  checkpoint: string;
}

export interface AuditHeadsAnswer {
  heads: SignedHeadRecord[];
}

export type AuditVerifyAnswer =
  | { ok: true; size: number; heads: number }
  | { ok: false; size: number; firstBadSeq: number | null; reason: string };

type Obj = Record<string, unknown>;

function schema<T>(check: (value: Obj) => T | null): Schema<T> {
  return {
    safeParse(value: unknown) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return { success: false };
      }
      const data = check(value as Obj);
      return data === null ? { success: false } : { success: true, data };
    },
  };
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex32 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isHexList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isHex32);
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const auditKeySchema = schema<AuditKeyAnswer>((v) =>
  typeof v.origin === 'string' && typeof v.verifierKey === 'string'
    ? { origin: v.origin, verifierKey: v.verifierKey }
    : null,
);

export const inclusionSchema = schema<InclusionAnswer>((v) =>
  isCount(v.seq) && isCount(v.size) && isHexList(v.proof)
    ? { seq: v.seq, size: v.size, proof: v.proof }
    : null,
);

export const consistencySchema = schema<ConsistencyAnswer>((v) =>
  isCount(v.from) && isCount(v.to) && isHexList(v.proof)
    ? { from: v.from, to: v.to, proof: v.proof }
    : null,
);

export const auditEntriesSchema = schema<AuditEntriesAnswer>((v) => {
  if (!Array.isArray(v.entries)) return null;
  const entries: AuditEntryRecord[] = [];
  for (const e of v.entries as unknown[]) {
    if (!isObj(e) || !isCount(e.seq) || !isHex32(e.leafHash)) return null;
    if (e.entry === null && e.pruned === true) {
      entries.push({ seq: e.seq, entry: null, leafHash: e.leafHash });
      continue;
    }
    if (!isObj(e.entry)) return null;
    entries.push({ seq: e.seq, entry: e.entry, leafHash: e.leafHash });
  }
  return { entries };
});

export const auditHeadsSchema = schema<AuditHeadsAnswer>((v) => {
  if (!Array.isArray(v.heads)) return null;
  const heads: SignedHeadRecord[] = [];
  for (const h of v.heads as unknown[]) {
    if (!isObj(h) || !isCount(h.size) || !isHex32(h.rootHash)) return null;
    if (typeof h.checkpoint !== 'string') return null;
    heads.push({ size: h.size, rootHash: h.rootHash, checkpoint: h.checkpoint });
  }
  return { heads };
});

export const auditVerifySchema = schema<AuditVerifyAnswer>((v) => {
  if (!isCount(v.size)) return null;
  if (v.ok === true && isCount(v.heads)) return { ok: true, size: v.size, heads: v.heads };
  if (
    v.ok === false &&
    typeof v.reason === 'string' &&
    (v.firstBadSeq === null || isCount(v.firstBadSeq))
  ) {
    return { ok: false, size: v.size, firstBadSeq: v.firstBadSeq, reason: v.reason };
  }
  return null;
});
