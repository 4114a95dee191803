import { createRequire } from 'node:module';

/** Lengths in Unicode code points after NFKC, the form that is hashed. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/** Identifiers shorter than this are only refused as the whole password: shorter ones occur inside ordinary words by chance. */
const MIN_IDENTIFIER_LENGTH = 4;

export type PasswordProblemCode =
  | 'too_short'
  | 'too_long'
  | 'common'
  | 'contains_username'
  | 'contains_email'
  | 'contains_name';

export interface PasswordProblem {
  code: PasswordProblemCode;
  message: string;
}

/** What is known about the account, so a password built from it can be refused. */
export interface PasswordContext {
  username?: string | null | undefined;
  email?: string | null | undefined;
  displayName?: string | null | undefined;
}

/**
 * NIST SP 800-63B §3.1.1.2 (memorized secrets): a minimum length, a generous
 * maximum, and a refusal of values known to be common, breached or derived
 * from the account — and no composition rules. Returns every problem found
 * (empty when the password is acceptable). The password is never logged and
 * never appears in a message.
 */
export function checkPasswordPolicy(
  password: string,
  context: PasswordContext = {},
): PasswordProblem[] {
  // Bound the work before normalising: NFKC expands at most 18-fold, and
  // anything this long is refused as too long anyway.
  if (password.length > PASSWORD_MAX_LENGTH * 4) {
    return [tooLong()];
  }
  const normalised = password.normalize('NFKC');
  const length = [...normalised].length;
  const problems: PasswordProblem[] = [];
  if (length < PASSWORD_MIN_LENGTH) {
    problems.push({
      code: 'too_short',
      message: `it has fewer than ${PASSWORD_MIN_LENGTH} characters`,
    });
  }
  if (length > PASSWORD_MAX_LENGTH) problems.push(tooLong());

  const folded = normalised.toLowerCase();
  if (isCommonPassword(folded)) {
    problems.push({
      code: 'common',
      message: 'it is on a list of commonly used and breached passwords',
    });
  }
  const username = fold(context.username);
  if (username && containsIdentifier(folded, username)) {
    problems.push({ code: 'contains_username', message: 'it contains the username' });
  }
  const emailParts = emailLocalParts(context.email);
  if (emailParts.some((part) => containsIdentifier(folded, part))) {
    problems.push({ code: 'contains_email', message: 'it contains the email address' });
  }
  const name = fold(context.displayName);
  if (name) {
    const parts = [name.replace(/\s+/g, ''), ...name.split(/\s+/)];
    if (parts.some((part) => [...part].length >= MIN_IDENTIFIER_LENGTH && folded.includes(part))) {
      problems.push({ code: 'contains_name', message: 'it contains the person’s name' });
    }
  }
  return problems;
}

/**
 * Case-insensitive membership in the bundled list, also catching the usual
 * way people stretch a common password to the minimum length: appending
 * digits or symbols ("dragon12345678", "monkey!!!!!!").
 */
export function isCommonPassword(password: string): boolean {
  const folded = password.normalize('NFKC').toLowerCase();
  const list = commonPasswords();
  if (list.has(folded)) return true;
  const stem = folded.replace(/[\d\p{P}\p{S}\s]+$/u, '');
  return stem.length > 0 && stem !== folded && list.has(stem);
}

let commonPasswordSet: Set<string> | undefined;

/**
 * The "passwords-common" dictionary of @zxcvbn-ts/language-common 4.1.3:
 * 49,233 entries, all lower-case ASCII, drawn from breach corpora (only 308
 * of them are 12 characters or more; the suffix rule above is what makes the
 * rest count). Loaded on first use and kept: it is read-only public data,
 * not per-server state, and decompressing it costs ~30 ms.
 */
function commonPasswords(): Set<string> {
  if (!commonPasswordSet) {
    const require = createRequire(import.meta.url);
    const { dictionary } =
      require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    commonPasswordSet = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  }
  return commonPasswordSet;
}

function tooLong(): PasswordProblem {
  return { code: 'too_long', message: `it has more than ${PASSWORD_MAX_LENGTH} characters` };
}

function fold(value: string | null | undefined): string {
  return (value ?? '').normalize('NFKC').toLowerCase().trim();
}

function containsIdentifier(password: string, identifier: string): boolean {
  if (identifier.length === 0) return false;
  if (password === identifier) return true;
  return [...identifier].length >= MIN_IDENTIFIER_LENGTH && password.includes(identifier);
}

/** "ada.l+bulwark@example.org" → ["ada.l+bulwark", "ada.l"]: the sub-address tag is often dropped when people reuse it. */
function emailLocalParts(email: string | null | undefined): string[] {
  const folded = fold(email);
  const at = folded.lastIndexOf('@');
  if (at <= 0) return [];
  const local = folded.slice(0, at);
  const plus = local.indexOf('+');
  return plus > 0 ? [local, local.slice(0, plus)] : [local];
}
