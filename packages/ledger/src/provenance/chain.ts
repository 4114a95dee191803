/**
 * Object provenance: every change to an object is one version, and the
 * versions form a hash chain. Each version names the ledger entry that
 * recorded the change (its sequence number and leaf hash), so a client can
 * check the chain here and each link against the signed tree with an
 * inclusion proof: a version that was altered, dropped or inserted breaks
 * one of the two.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { canonicalJson } from '../canonical/jcs.ts';

export interface ObjectVersion {
  /** The object's kind and id, as the ledger entry's target names it. */
  type: string;
  id: string;
  /** 1 for the change that created it (or the first recorded one), then +1. */
  version: number;
  /** The ledger entry recording this change. */
  seq: number;
  leafHash: string;
  /** SHA-256 of the object after the change, as in the entry; null when none was recorded. */
  afterSha256: string | null;
  /** The previous version's hash; null for version 1. */
  prevHash: string | null;
  /** SHA-256 (hex) of the RFC 8785 form of every field above. */
  hash: string;
}

/** The hash that chains a version to its predecessor. */
export function versionHash(v: Omit<ObjectVersion, 'hash'>): string {
  return bytesToHex(
    sha256(
      canonicalJson({
        type: v.type,
        id: v.id,
        version: v.version,
        seq: v.seq,
        leafHash: v.leafHash,
        afterSha256: v.afterSha256,
        prevHash: v.prevHash,
      }),
    ),
  );
}

export type ChainVerdict =
  | { ok: true; versions: number }
  | { ok: false; version: number; reason: string };

/**
 * Checks a complete history, oldest first: numbering without gaps, each
 * hash recomputed, each link to its predecessor, and ledger positions
 * strictly increasing (a change cannot be recorded before the one it follows).
 */
export function verifyVersionChain(versions: readonly ObjectVersion[]): ChainVerdict {
  let prev: ObjectVersion | null = null;
  for (const [i, v] of versions.entries()) {
    const bad = (reason: string): ChainVerdict => ({ ok: false, version: v.version, reason });
    if (v.version !== i + 1) return bad(`version ${i + 1} is missing (found ${v.version})`);
    if (prev && (v.type !== prev.type || v.id !== prev.id))
      return bad('it belongs to another object');
    if (v.prevHash !== (prev?.hash ?? null))
      return bad('it does not link to the version before it');
    if (prev && v.seq <= prev.seq) return bad('its ledger entry is not after the previous one');
    if (versionHash(v) !== v.hash) return bad('its hash does not match its contents');
    prev = v;
  }
  return { ok: true, versions: versions.length };
}
