import type { DomainMatcher } from '../blocklist/matcher.ts';
import { DomainMatcher as Matcher } from '../blocklist/matcher.ts';
import { type ListRule, parseList } from '../blocklist/parse.ts';
import type { BlockAnswer, CustomRule, DnsCategory, FirewallPolicy } from '../types.ts';
import type { ListRegistry } from './lists.ts';

/** Why a name was blocked: for the answer, the query log and the statistics. */
export interface Block {
  category: DnsCategory;
  answer: BlockAnswer;
  /** `<list>:<rule>` or `custom:<pattern>`. */
  rule: string;
}

/**
 * The firewall's decision for one name under one policy. Order: the
 * policy's own allow rules, its own block rules, then each category it
 * blocks. Inside a category an allow rule from any of its lists (an Adblock
 * `@@` exception, RPZ passthru) beats every block of that category, so a
 * list's maintainers can un-break a site without the operator's help.
 */
export class Firewall {
  readonly #lists: ListRegistry;
  /** Policies are replaced whole on every directory change, so a weak map forgets old ones. */
  readonly #custom = new WeakMap<FirewallPolicy, DomainMatcher>();

  constructor(lists: ListRegistry) {
    this.#lists = lists;
  }

  /** `name`: lower case, no trailing dot (as read off the wire). */
  decide(name: string, policy: FirewallPolicy): Block | null {
    if (policy.rules.length > 0) {
      const verdict = this.#customMatcher(policy).checkLowerCase(name);
      if (verdict.action === 'allow') return null;
      if (verdict.action === 'block') {
        return { category: 'custom', answer: policy.answer, rule: `custom:${verdict.rule?.name}` };
      }
    }
    for (const category of policy.blockCategories) {
      const matchers = this.#lists.matchers(category);
      let block: Block | null = null;
      let allowed = false;
      for (const matcher of matchers) {
        const verdict = matcher.checkLowerCase(name);
        if (verdict.action === 'allow') {
          allowed = true;
          break;
        }
        if (verdict.action === 'block' && block === null && verdict.rule) {
          block = {
            category,
            answer: verdict.rule.answer ?? this.#lists.answerOf(verdict.rule.list) ?? policy.answer,
            rule: `${verdict.rule.list}:${verdict.rule.name}`,
          };
        }
      }
      if (!allowed && block) return block;
    }
    return null;
  }

  #customMatcher(policy: FirewallPolicy): DomainMatcher {
    let matcher = this.#custom.get(policy);
    if (!matcher) {
      matcher = new Matcher();
      matcher.add(customRules(policy.rules), 'custom');
      this.#custom.set(policy, matcher);
    }
    return matcher;
  }
}

/**
 * An admin's rule in the forms the API accepts: `example.com` (it and
 * everything under it), `*.example.com` (only under it), `/regex/`.
 * Invalid patterns were refused by the API; any left are skipped here.
 */
export function customRules(rules: CustomRule[]): ListRule[] {
  const out: ListRule[] = [];
  for (const rule of rules) {
    const pattern = rule.pattern.trim();
    const parsed = pattern.startsWith('/')
      ? parseList(rule.action === 'allow' ? `@@${pattern}` : pattern, 'adblock')
      : parseList(pattern, 'domains');
    for (const r of parsed.rules) out.push({ ...r, action: rule.action });
  }
  return out;
}

/** Checks an admin's pattern; null when fine, else what is wrong. */
export function checkCustomPattern(pattern: string): string | null {
  if (pattern.length > 256) return 'a rule is at most 256 characters';
  const rules = customRules([{ action: 'block', pattern }]);
  if (rules.length === 1) return null;
  return pattern.trim().startsWith('/')
    ? `"${pattern}" is not a valid /regular expression/`
    : `"${pattern}" is not a domain name, *.domain or /regex/`;
}
