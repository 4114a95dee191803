/**
 * The audit ledger's public algorithms, shared by the server (which builds
 * the log), the CLI and, later, the web client (which check it): RFC 9162
 * Merkle hashing and proof verification, C2SP signed notes and checkpoints,
 * RFC 8785 canonical JSON. No storage, no server code.
 */
export * from './canonical/jcs.ts';
export * from './checkpoint/checkpoint.ts';
export * from './checkpoint/signed-note.ts';
export * from './merkle/hash.ts';
export * from './merkle/verify.ts';
export * from './provenance/chain.ts';
