// STUB — replaced by the helper that owns this screen.
export default function InstallationAdminPage(_props: { tab?: string | undefined }) {
  return <p>InstallationAdminPage</p>;
}
