import { fileURLToPath } from 'node:url';
import {
  seedJiraProjects,
  startFakeJiraCloud,
  type JiraFake,
} from '../../tests/fakes/jira-cloud.js';
import { serveCommands, startChild, startChildMain, type Child } from './child.js';

/**
 * Fake Jira Cloud sites (the tests' fakes) in their own process, each answering after `latencyMs`,
 * so that their CPU lands neither in the server nor in the benchmark's own process.
 */

export interface FakeJiraSite {
  url: string;
  email: string;
  apiToken: string;
}

export type FakeJiraProcess = Child<Record<string, never>, FakeJiraSite[]>;

export function startFakeJiras(count: number, latencyMs: number): Promise<FakeJiraProcess> {
  return startChild(fileURLToPath(import.meta.url), {
    env: { BENCH_FAKE_JIRAS: String(count), BENCH_FAKE_JIRA_LATENCY_MS: String(latencyMs) },
  });
}

const count = Number(process.env.BENCH_FAKE_JIRAS ?? 0);
if (count > 0 && process.send) {
  startChildMain(async () => {
    const fakes: JiraFake[] = [];
    for (let i = 0; i < count; i++) {
      const fake = await startFakeJiraCloud({ projects: seedJiraProjects(5, `S${i}P`) });
      fake.setBehaviour({ latencyMs: Number(process.env.BENCH_FAKE_JIRA_LATENCY_MS ?? 0) });
      fakes.push(fake);
    }
    // Recorded requests would grow without bound under load.
    const forget = setInterval(() => fakes.forEach((fake) => fake.requests.splice(0)), 1_000);
    await serveCommands(
      {},
      {
        ready: fakes.map((fake): FakeJiraSite => {
          const user = fake.state.users[0];
          if (!user) throw new Error('the fake Jira has no users');
          return { url: fake.url, email: user.email, apiToken: user.token };
        }),
        cleanup: async () => {
          clearInterval(forget);
          await Promise.all(fakes.map((fake) => fake.stop()));
        },
      },
    );
  });
}
