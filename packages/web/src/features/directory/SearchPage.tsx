/**
 * People search (`GET /v1/directory/search?q=`): one's own org's people and
 * the co-members of one's projects. Debounced as one types; the number of
 * matches is announced to screen readers; the query is kept in the URL.
 */
import { useEffect, useState } from 'react';
import { useSearchParams } from 'wouter';
import { Badge, Card, EmptyState, PageHeader, TextField } from '../../ui/components.tsx';
import { resultCount } from './logic.ts';
import {
  orgLabel,
  PersonName,
  ProblemNote,
  SEARCH_LIMIT,
  useOrgs,
  usePeopleSearch,
  useViewer,
} from './parts.tsx';

export default function SearchPage() {
  const [params, setParams] = useSearchParams();
  const [query, setQuery] = useState(() => params.get('q') ?? '');
  const search = usePeopleSearch(query);
  const orgs = useOrgs();
  const viewer = useViewer();

  // Keep the settled query in the address, so the search can be shared and survives a reload.
  const inAddress = params.get('q') ?? '';
  useEffect(() => {
    if (search.q !== inAddress) setParams(search.q ? { q: search.q } : {}, { replace: true });
  }, [search.q, inAddress, setParams]);

  const people = search.q ? (search.data?.people ?? []) : [];
  const status = !search.q
    ? ''
    : !search.settled
      ? 'Searching…'
      : search.error
        ? 'The search failed.'
        : resultCount(people.length, people.length >= SEARCH_LIMIT);

  return (
    <>
      <PageHeader
        title="Search people"
        subtitle="Find the people of your organisation and the people you share a project with. Nobody else’s people are searchable."
      />
      <Card>
        <search>
          <TextField
            label="Name, username or e-mail address"
            hint={
              viewer.orgRole === 'guest'
                ? 'As a guest you find the people of the projects you are in, by name.'
                : 'E-mail addresses are searched and shown only for your own organisation’s people.'
            }
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            maxLength={100}
            autoComplete="off"
            autoFocus
          />
        </search>
        <p role="status" className="search-status">
          {status}
        </p>
        <ProblemNote error={search.error} />
        {!search.q ? (
          <EmptyState title="Type to search">
            <p>Results appear as you type. At most {SEARCH_LIMIT} matches are shown at once.</p>
          </EmptyState>
        ) : null}
        {search.q && search.settled && !search.error && people.length === 0 ? (
          <EmptyState title={`Nobody matches “${search.q}”`}>
            <p>
              Check the spelling, or try part of the name. People of other organisations appear only
              when you share a project with them.
            </p>
          </EmptyState>
        ) : null}
        {people.length > 0 ? (
          <ul className="list search-results" aria-label="People found">
            {people.map((person) => (
              <li key={person.id}>
                <PersonName
                  name={person.displayName}
                  username={person.username}
                  email={person.email}
                />
                <span className="search-result-meta">
                  {person.id === viewer.userId ? <Badge tone="success">You</Badge> : null}
                  {person.external ? (
                    <Badge
                      tone="warning"
                      title="Not of your organisation: a partner’s person or a guest"
                    >
                      External
                    </Badge>
                  ) : (
                    <Badge tone="info" title="A person of your organisation">
                      Internal
                    </Badge>
                  )}
                  <span className="muted">
                    {person.external
                      ? orgLabel(orgs.byId, person.orgId, 'Another organisation')
                      : orgLabel(orgs.byId, person.orgId, 'Your organisation')}
                  </span>
                </span>
              </li>
            ))}
          </ul>
        ) : null}
      </Card>
    </>
  );
}
