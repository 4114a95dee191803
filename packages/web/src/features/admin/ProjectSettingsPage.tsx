/**
 * A project's settings (project owners and admins): name and description,
 * the security policy override beside the org's and the effective result,
 * and archiving.
 */
import { useState } from 'react';
import { useLocation } from 'wouter';
import { api, seg } from '../../api/client.ts';
import {
  Banner,
  Button,
  Card,
  Dialog,
  ErrorNote,
  Spinner,
  TextArea,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import type { ProjectInfo } from '../project/ProjectPage.tsx';
import { type PolicyObject, ProjectPolicyEditor, type ProjectPolicyView } from './PolicyEditor.tsx';
import './admin.css';

export default function ProjectSettingsPage({
  project,
  onChanged,
}: {
  project: ProjectInfo;
  onChanged: () => void;
}) {
  const id = project.project.id;
  return (
    <>
      <DetailsCard project={project} onChanged={onChanged} />
      <PolicyCard projectId={id} readOnly={project.kind === 'external'} />
      {project.role === 'owner' ? <ArchiveCard project={project} /> : null}
    </>
  );
}

function DetailsCard({ project, onChanged }: { project: ProjectInfo; onChanged: () => void }) {
  const [name, setName] = useState(project.project.name);
  const [description, setDescription] = useState(project.project.description ?? '');
  const [issue, setIssue] = useState('');
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    await api.patch(
      `/v1/projects/${seg(project.project.id)}`,
      { name: name.trim(), description: description.trim() === '' ? null : description.trim() },
      { issue: issue.trim() || undefined },
    );
    setSaved(true);
    onChanged();
  });
  return (
    <Card>
      <h2>Name and description</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <TextField
          label="Name"
          value={name}
          required
          maxLength={200}
          onChange={(e) => setName(e.target.value)}
        />
        <TextArea
          label="Description"
          value={description}
          maxLength={2000}
          onChange={(e) => setDescription(e.target.value)}
        />
        <TextField
          label="Linked issue (optional)"
          hint={`The issue this change cites, e.g. ${project.project.key}-12. Required when the policy says changes must cite an issue.`}
          value={issue}
          onChange={(e) => setIssue(e.target.value)}
        />
        <ErrorNote error={save.error} />
        {saved ? <Banner tone="success">Saved.</Banner> : null}
        <Button type="submit" variant="primary" busy={save.busy}>
          Save
        </Button>
      </form>
    </Card>
  );
}

function PolicyCard({ projectId, readOnly }: { projectId: string; readOnly: boolean }) {
  const policy = useResource(`project-policy:${projectId}`, (signal) =>
    api.get<ProjectPolicyView>(`/v1/projects/${seg(projectId)}/policy`, { signal }),
  );
  const [view, setView] = useState<ProjectPolicyView | null>(null);
  const [saved, setSaved] = useState(false);
  const save = useAction(async (override: PolicyObject) => {
    setSaved(false);
    const next = await api.put<ProjectPolicyView>(
      `/v1/projects/${seg(projectId)}/policy`,
      override,
    );
    setView(next);
    setSaved(true);
  });
  const current = view ?? policy.data;
  return (
    <Card>
      <h2>Security policy</h2>
      {!current ? (
        policy.error ? (
          <ErrorNote error={policy.error} />
        ) : (
          <Spinner label="Loading the policy…" />
        )
      ) : !current.org || typeof current.org !== 'object' || !('internal' in current.org) ? (
        <Banner tone="info">
          As an external member you see only the rules that apply to you here; the org's policy is
          not shown.
        </Banner>
      ) : (
        <>
          {saved ? (
            <Banner tone="success">
              Saved. The effective policy applies at the next request of every session.
            </Banner>
          ) : null}
          <ProjectPolicyEditor
            key={JSON.stringify(current.project)}
            view={current}
            onSave={(override) => void save.run(override)}
            saving={save.busy}
            error={save.error}
            readOnly={readOnly}
          />
        </>
      )}
    </Card>
  );
}

function ArchiveCard({ project }: { project: ProjectInfo }) {
  const [open, setOpen] = useState(false);
  const [confirmText, setConfirmText] = useState('');
  const [, navigate] = useLocation();
  const archive = useAction(async () => {
    await api.delete(`/v1/projects/${seg(project.project.id)}`);
    setOpen(false);
    navigate('~/');
  });
  return (
    <Card>
      <h2>Archive this project</h2>
      <p>
        Archiving hides {project.project.key} everywhere at once: its board, chat and members are no
        longer reachable, and its partner links end. It cannot be restored through the app; the
        audit ledger keeps its history.
      </p>
      <Button variant="danger" onClick={() => setOpen(true)}>
        Archive project…
      </Button>
      <Dialog open={open} title={`Archive ${project.project.key}?`} onClose={() => setOpen(false)}>
        <p>
          Type the project key <strong>{project.project.key}</strong> to confirm.
        </p>
        <TextField
          label="Project key"
          value={confirmText}
          onChange={(e) => setConfirmText(e.target.value)}
          autoComplete="off"
        />
        <ErrorNote error={archive.error} />
        <div className="btn-row">
          <Button
            variant="danger"
            busy={archive.busy}
            disabled={confirmText.trim() !== project.project.key}
            onClick={() => void archive.run()}
          >
            Archive for everyone
          </Button>
          <Button onClick={() => setOpen(false)}>Cancel</Button>
        </div>
      </Dialog>
    </Card>
  );
}
