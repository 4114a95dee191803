// STUB — replaced by the helper that owns this screen.
export default function OrgAdminPage(_props: { orgId: string; tab?: string | undefined }) {
  return <p>OrgAdminPage</p>;
}
