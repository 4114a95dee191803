/**
 * The browser-safe part of the ledger library: everything a client needs
 * to check the ledger — canonical JSON, Merkle hashing and proofs, signed
 * notes and checkpoints (parsing, and verification against any verifier),
 * provenance chains — without node:crypto or Buffer. The node:crypto
 * Ed25519 signer and verifier are only in the package's main entry; a
 * browser verifies Ed25519 with WebCrypto.
 */
export * from './canonical/jcs.ts';
export * from './checkpoint/checkpoint.ts';
export * from './checkpoint/note.ts';
export * from './merkle/hash.ts';
export * from './merkle/verify.ts';
export * from './provenance/chain.ts';
