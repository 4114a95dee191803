// STUB — replaced by the helper that owns this screen.
export default function IssuePage(_props: {
  project: import('../project/ProjectPage.tsx').ProjectInfo;
  issueId: string;
}) {
  return <p>IssuePage</p>;
}
