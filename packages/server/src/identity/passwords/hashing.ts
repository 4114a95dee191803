import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const argon2Async = promisify(argon2);

/** Argon2id cost. `memory` is in KiB. */
export interface PasswordHashCost {
  memory: number;
  passes: number;
  parallelism: number;
}

/**
 * OWASP Password Storage Cheat Sheet, first Argon2id option (19 MiB, t=2,
 * p=1): the minimum for interactive login. Logins are frequent and each
 * costs this much server memory, unlike unseal (keys/providers/passphrase.ts)
 * which can afford RFC 9106's heavier option. Raising it later is safe:
 * each PHC string carries its own cost and `needsRehash` upgrades old hashes
 * at the next successful login.
 */
export const passwordHashCost: PasswordHashCost = { memory: 19456, passes: 2, parallelism: 1 };

const SALT_BYTES = 16;
const TAG_BYTES = 32;
const ARGON2_VERSION = 19; // 0x13, the only version node:crypto computes

/*
 * Bounds on what a stored PHC string may ask for. A tampered or corrupt row
 * must not make one login allocate gigabytes or spin for minutes.
 */
const LIMITS = {
  memory: { min: 8, max: 1048576 }, // 1 GiB
  passes: { min: 1, max: 64 },
  parallelism: { min: 1, max: 16 },
  salt: { min: 8, max: 64 },
  tag: { min: 16, max: 64 },
} as const;

export interface ParsedPasswordHash extends PasswordHashCost {
  salt: Buffer;
  tag: Buffer;
}

/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, base64 without padding (the PHC string format). */
export async function hashPassword(
  password: string,
  cost: PasswordHashCost = passwordHashCost,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const tag = await computeTag(password, salt, cost, TAG_BYTES);
  return formatPhc({ ...cost, salt, tag });
}

/**
 * True when `password` matches the stored PHC string. Never throws, so a
 * login caller cannot turn a corrupt row into an error page: a malformed or
 * out-of-bounds string is a non-match, after the same work as a real check.
 */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const parsed = parsePasswordHash(phc);
  if (!parsed) {
    await dummyVerify();
    return false;
  }
  try {
    const tag = await computeTag(password, parsed.salt, parsed, parsed.tag.length);
    return timingSafeEqual(tag, parsed.tag);
  } catch {
    return false;
  }
}

/**
 * The work of one verify at `cost`, with nothing to match. Run for unknown
 * users and users without a password so that "no such user" answers as slowly
 * as "wrong password" (SECURITY.md, brute force: same answer and timing).
 */
export async function dummyVerify(cost: PasswordHashCost = passwordHashCost): Promise<void> {
  const tag = await computeTag(
    randomBytes(16).toString('base64'),
    randomBytes(SALT_BYTES),
    cost,
    TAG_BYTES,
  );
  timingSafeEqual(tag, randomBytes(TAG_BYTES));
}

/** True when the stored hash is weaker than `cost` (or unreadable), so it should be recomputed at the next successful login. */
export function needsRehash(phc: string, cost: PasswordHashCost = passwordHashCost): boolean {
  const parsed = parsePasswordHash(phc);
  if (!parsed) return true;
  return (
    parsed.memory < cost.memory ||
    parsed.passes < cost.passes ||
    parsed.salt.length < SALT_BYTES ||
    parsed.tag.length < TAG_BYTES
  );
}

const PHC_PATTERN =
  /^\$argon2id\$v=(\d{1,3})\$m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Strict parse of an Argon2id PHC string; null when anything is off. */
export function parsePasswordHash(phc: string): ParsedPasswordHash | null {
  if (phc.length > 512) return null;
  const m = PHC_PATTERN.exec(phc);
  if (!m) return null;
  const [, v, mem, t, p, saltB64, tagB64] = m;
  const version = canonicalInt(v);
  const memory = canonicalInt(mem);
  const passes = canonicalInt(t);
  const parallelism = canonicalInt(p);
  const salt = canonicalBase64(saltB64);
  const tag = canonicalBase64(tagB64);
  if (
    version !== ARGON2_VERSION ||
    memory === null ||
    passes === null ||
    parallelism === null ||
    salt === null ||
    tag === null
  ) {
    return null;
  }
  if (
    !within(memory, LIMITS.memory) ||
    memory < 8 * parallelism || // Argon2 requires m >= 8p (RFC 9106 §3.1)
    !within(passes, LIMITS.passes) ||
    !within(parallelism, LIMITS.parallelism) ||
    !within(salt.length, LIMITS.salt) ||
    !within(tag.length, LIMITS.tag)
  ) {
    return null;
  }
  return { memory, passes, parallelism, salt, tag };
}

function formatPhc(h: ParsedPasswordHash): string {
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$argon2id$v=${ARGON2_VERSION}$m=${h.memory},t=${h.passes},p=${h.parallelism}$${b64(h.salt)}$${b64(h.tag)}`;
}

function computeTag(
  password: string,
  salt: Buffer,
  cost: PasswordHashCost,
  tagLength: number,
): Promise<Buffer> {
  // NFKC so the same password typed on another keyboard or OS (composed vs
  // decomposed accents, full-width forms) hashes the same; as for unseal.
  return argon2Async('argon2id', {
    message: Buffer.from(password.normalize('NFKC'), 'utf8'),
    nonce: salt,
    parallelism: cost.parallelism,
    tagLength,
    memory: cost.memory,
    passes: cost.passes,
  });
}

function canonicalInt(s: string | undefined): number | null {
  if (s === undefined || !/^(0|[1-9]\d*)$/.test(s)) return null;
  return Number(s);
}

/** Decodes unpadded standard base64, refusing non-canonical encodings (stray bits, wrong length). */
function canonicalBase64(s: string | undefined): Buffer | null {
  if (s === undefined || s.length % 4 === 1) return null;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === s ? bytes : null;
}

function within(n: number, range: { min: number; max: number }): boolean {
  return n >= range.min && n <= range.max;
}
