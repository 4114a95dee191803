import { createHash, X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { checkCustomPattern, dnsCategories, normalizeName } from '@bulwark/dns';
import { z } from 'zod';
import { uuid } from '../directory/routes/shared.ts';
import { BulwarkError } from '../errors.ts';
import { parseCidr } from '../policy/policy.ts';

/**
 * What the DNS API accepts, checked before anything is stored: names are
 * domain names, ranges canonical CIDRs, rules patterns the resolver can
 * apply, and every list is bounded (SECURITY.md, Input).
 */

export const limits = {
  zonesPerOrg: 1000,
  recordsPerZone: 10_000,
  groupsPerOrg: 1000,
  clientsPerGroup: 10_000,
  rulesPerGroup: 1000,
  rangesPerGroup: 256,
} as const;

/** A zone apex: a domain name of at least two labels (a whole TLD is nobody's internal zone). */
export const zoneName = z.string().transform((text, ctx) => {
  const name = normalizeName(text);
  if (name === null || !name.includes('.')) {
    ctx.addIssue({
      code: 'custom',
      message: `"${text.slice(0, 80)}" is not a zone name (a domain name of two labels or more, like corp.example.org)`,
    });
    return z.NEVER;
  }
  return name;
});

export const zoneBody = z.object({ name: zoneName }).strict();

/** A record as typed by an admin; checkRecord (@bulwark/dns) reads and normalises it. */
export const recordBody = z
  .object({
    name: z.string().max(300),
    type: z.string().max(10),
    ttl: z.number().optional(),
    data: z.string().max(20_000),
  })
  .strict();

const cidr = z.string().transform((text, ctx) => {
  const range = parseCidr(text);
  if ('error' in range) {
    ctx.addIssue({ code: 'custom', message: range.error });
    return z.NEVER;
  }
  return range.text;
});

/**
 * Patterns are what the resolver's custom rules read (checkCustomPattern).
 * Regular expressions run on every query of the group: besides compiling,
 * they may not nest quantifiers (`(a+)+`), the classic shape of
 * catastrophic backtracking that would let one rule stall the resolver.
 */
export function checkRulePattern(raw: string): { pattern: string } | { error: string } {
  const pattern = raw.trim();
  const problem = checkCustomPattern(pattern);
  if (problem !== null) return { error: problem };
  if (pattern.startsWith('/')) {
    if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/.test(pattern)) {
      return { error: `"${pattern}" nests quantifiers, which can take exponential time` };
    }
    return { pattern };
  }
  // Domain forms, in the one spelling the resolver compares (lower case, ASCII).
  const wildcard = pattern.startsWith('*.');
  const name = normalizeName(wildcard ? pattern.slice(2) : pattern);
  return name === null
    ? { error: `"${pattern}" is not a domain name` }
    : { pattern: wildcard ? `*.${name}` : name };
}

const rule = z
  .object({
    action: z.enum(['block', 'allow'], { error: 'action: expected "block" or "allow"' }),
    pattern: z.string().transform((text, ctx) => {
      const checked = checkRulePattern(text);
      if ('error' in checked) {
        ctx.addIssue({ code: 'custom', message: checked.error });
        return z.NEVER;
      }
      return checked.pattern;
    }),
  })
  .strict();

const category = z.enum(dnsCategories, {
  error: `expected one of ${dnsCategories.join(', ')}`,
});

function distinct<T>(items: readonly T[], ctx: z.RefinementCtx): void {
  items.forEach((item, i) => {
    if (items.indexOf(item) !== i) {
      ctx.addIssue({
        code: 'custom',
        path: [i],
        message: `${JSON.stringify(item)} is listed more than once`,
      });
    }
  });
}

const address = (family: 4 | 6) =>
  z.string().refine((text) => (family === 4 ? isIPv4(text) : isIPv6(text) && !text.includes('%')), {
    message: `expected an IPv${family} address`,
  });

export const groupBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    projectId: uuid('a project').nullable().default(null),
    sourceCidrs: z.array(cidr).max(limits.rangesPerGroup).default([]).superRefine(distinct),
    blockCategories: z.array(category).max(dnsCategories.length).default([]).superRefine(distinct),
    rules: z.array(rule).max(limits.rulesPerGroup).default([]),
    answer: z.enum(['nxdomain', 'null', 'sinkhole']).default('nxdomain'),
    sinkhole: z
      .object({
        ipv4: address(4).nullable().default(null),
        ipv6: address(6).nullable().default(null),
      })
      .strict()
      .default(() => ({ ipv4: null, ipv6: null })),
  })
  .strict()
  .superRefine((group, ctx) => {
    // Without an address the resolver would have nothing to answer with.
    if (
      group.answer === 'sinkhole' &&
      group.sinkhole.ipv4 === null &&
      group.sinkhole.ipv6 === null
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['sinkhole'],
        message: 'answer "sinkhole" needs a sinkhole address (ipv4, ipv6 or both)',
      });
    }
  });

export const clientBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    certificatePem: z.string().max(20_000).optional(),
  })
  .strict();

export const queryLogQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    before: z.string().max(200).optional(),
    name: z
      .string()
      .transform((text, ctx) => {
        const name = normalizeName(text);
        if (name === null) {
          ctx.addIssue({ code: 'custom', message: 'expected a domain name' });
          return z.NEVER;
        }
        return name;
      })
      .optional(),
  })
  .strict();

/**
 * The SHA-256 fingerprint (hex, of the DER) of a DoT client certificate,
 * the form the resolver compares. One certificate, and never a private key:
 * a key pasted by mistake is refused rather than stored or echoed.
 */
export function certificateFingerprint(pem: string): string {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new BulwarkError(
      'bad_request',
      'certificatePem holds a private key: send only the certificate (the key stays on the device).',
    );
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks !== 1) {
    throw new BulwarkError(
      'bad_request',
      `certificatePem: expected exactly one PEM certificate (-----BEGIN CERTIFICATE-----), found ${blocks}.`,
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new BulwarkError(
      'bad_request',
      `certificatePem is not a readable X.509 certificate (${(err as Error).message}).`,
    );
  }
  return createHash('sha256').update(cert.raw).digest('hex');
}
