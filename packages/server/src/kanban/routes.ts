import type { App } from '../http/app.ts';
import { registerBoardRoutes } from './routes/board-routes.ts';
import { type KanbanDeps, kanbanContext } from './routes/context.ts';
import { registerIssueRoutes } from './routes/issue-routes.ts';

export type { KanbanDeps };

/** Boards, issues, comments, links, views and exports: every change is a client operation. */
export function registerKanbanRoutes(deps: KanbanDeps) {
  const ctx = kanbanContext(deps);
  return (app: App): void => {
    registerBoardRoutes(ctx)(app);
    registerIssueRoutes(ctx)(app);
  };
}
