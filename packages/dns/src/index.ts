/**
 * @bulwark/dns — the organisation's resolver and firewall (issue 8). So far:
 * block and allow lists (parse.ts) and the matcher that applies them.
 */
export { DomainMatcher, type Verdict } from './blocklist/matcher.ts';
export {
  type ListFormat,
  type ListRule,
  type NameMatch,
  type ParsedList,
  parseList,
} from './blocklist/parse.ts';
export { normalizeName, parentsOf } from './names.ts';
