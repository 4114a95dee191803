// STUB — replaced by the helper that owns this screen.
export default function ProjectMembersPage(_props: {
  project: import('../project/ProjectPage.tsx').ProjectInfo;
}) {
  return <p>ProjectMembersPage</p>;
}
