// STUB — replaced by the helper that owns this screen.
export default function ProjectSettingsPage(_props: {
  project: import('../project/ProjectPage.tsx').ProjectInfo;
  onChanged: () => void;
}) {
  return <p>ProjectSettingsPage</p>;
}
