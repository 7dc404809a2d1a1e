import { fileURLToPath } from 'node:url';
import { textOf as jiraText } from '../../tests/fakes/jira-core.js';
import { startFakeJiraCloud } from '../../tests/fakes/jira-cloud.js';
import { startFakeOpenProject } from '../../tests/fakes/openproject.js';
import type { FakeBehaviour } from '../../tests/fakes/fake-server.js';
import { serveCommands, startChild, startChildMain, type Child } from './child.js';

/**
 * The soak's fake Jira Cloud and OpenProject in their own process. In the driver's process they
 * shared one event loop with 200 clients, the proxy and the bridges: on a saturated machine they
 * answered late, and the servers' 10 s provider timeouts fired for reasons outside the system.
 */

export type FakeProvider = 'jira' | 'openproject';

export interface SoakWrite {
  marker: string;
  provider: FakeProvider;
  what: 'issue' | 'comment';
}

export interface SoakFakesReady {
  jira: { url: string; email: string; token: string };
  openProject: { url: string; token: string };
}

export interface SoakFakesApi {
  [command: string]: (args: never) => unknown;
  setBehaviour(args: { provider: FakeProvider; changes: Partial<FakeBehaviour> }): void;
  /** How often each write exists, and how many soak writes exist that nobody acknowledged. */
  countWrites(args: { runPrefix: string; writes: SoakWrite[] }): {
    counts: number[];
    unacknowledged: number;
  };
}

export type SoakFakesProcess = Child<SoakFakesApi, SoakFakesReady>;

export function startSoakFakes(): Promise<SoakFakesProcess> {
  return startChild(fileURLToPath(import.meta.url), { env: { SOAK_FAKES_CHILD: '1' } });
}

/**
 * Whether a comment carries this marker and not merely one it prefixes (`…-9` is inside `…-99`).
 */
const mentions = (text: string, marker: string): boolean =>
  new RegExp(`${marker}(?![0-9])`).test(text);

if (process.env.SOAK_FAKES_CHILD === '1' && process.send) {
  startChildMain(async () => {
    const jira = await startFakeJiraCloud({
      projects: [{ key: 'WEB', name: 'Website' }],
      issues: Array.from({ length: 5 }, (_, index) => ({
        projectKey: 'WEB',
        summary: `Seeded issue ${index + 1}`,
        status: 'To Do',
      })),
    });
    const openProject = await startFakeOpenProject({
      projects: [{ identifier: 'web', name: 'Website' }],
      workPackages: Array.from({ length: 5 }, (_, index) => ({
        project: 'web',
        subject: `Seeded work package ${index + 1}`,
      })),
    });
    // Recorded requests would grow without bound under load (and count as the fakes' RSS).
    const forget = setInterval(() => {
      jira.requests.splice(0);
      openProject.requests.splice(0);
    }, 1_000);
    const jiraUser = jira.state.users[0];
    const opUser = openProject.state.users[0];
    if (!jiraUser || !opUser) throw new Error('fakes without users');

    const countWrite = (write: SoakWrite): number => {
      if (write.provider === 'jira') {
        if (write.what === 'issue')
          return jira.state.issues.filter((issue) => issue.summary === `Soak ${write.marker}`)
            .length;
        return jira.state.issues
          .flatMap((issue) => issue.comments)
          .filter((comment) => mentions(jiraText(comment.body), write.marker)).length;
      }
      if (write.what === 'issue')
        return openProject.state.workPackages.filter((wp) => wp.subject === `Soak ${write.marker}`)
          .length;
      return openProject.state.activities.filter((activity) =>
        mentions(activity.comment, write.marker),
      ).length;
    };

    const api: SoakFakesApi = {
      setBehaviour({ provider, changes }) {
        (provider === 'jira' ? jira : openProject).setBehaviour(changes);
      },
      countWrites({ runPrefix, writes }) {
        const markers = new Set(writes.map((write) => write.marker));
        const prefix = `Soak ${runPrefix}`;
        const unacknowledged =
          jira.state.issues.filter(
            (issue) => issue.summary.startsWith(prefix) && !markers.has(issue.summary.slice(5)),
          ).length +
          openProject.state.workPackages.filter(
            (wp) => wp.subject.startsWith(prefix) && !markers.has(wp.subject.slice(5)),
          ).length;
        return { counts: writes.map(countWrite), unacknowledged };
      },
    };
    await serveCommands(api, {
      ready: {
        jira: { url: jira.url, email: jiraUser.email, token: jiraUser.token },
        openProject: { url: openProject.url, token: opUser.token },
      } satisfies SoakFakesReady,
      cleanup: async () => {
        clearInterval(forget);
        await Promise.all([jira.stop(), openProject.stop()]);
      },
    });
  });
}
