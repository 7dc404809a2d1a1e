import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultJiraUsers, seedJiraProjects, startFakeJiraCloud } from '../fakes/jira-cloud.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import {
  defaultOpenProjectUsers,
  seedOpenProjectProjects,
  startFakeOpenProject,
} from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import {
  connectTools,
  contextOver,
  connectionsToEachFake,
  type ConnectedTools,
} from '../tools/support.js';
import { fuzzParameters, nastyString } from './support.js';

/**
 * Arbitrary arguments for every tool (listed at run time; arguments derived from each tool's
 * input schema, and arbitrary objects) against the three provider fakes: every result is a
 * valid result or a clear tool error, never `internal_error` (a bug) nor a thrown protocol
 * failure other than the SDK's argument validation; no fake ever receives another connection's
 * credential or an MCP key.
 */
interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
}

describe('tool arguments', () => {
  const alice = defined(defaultJiraUsers[0], 'alice');
  const carol = defined(defaultOpenProjectUsers[0], 'carol');
  const fakes: { url: string; recordedText(): string; stop(): Promise<void> }[] = [];
  const tokens: string[] = [];
  let tools: ConnectedTools;
  let ids: string[] = [];
  let connectionIds: string[] = [];

  beforeAll(async () => {
    const jiraSeed = {
      projects: [{ key: 'WEB', name: 'Website' }, ...seedJiraProjects(2)],
      issues: [{ projectKey: 'WEB', summary: 'Fix login bug', status: 'To Do', assignee: 'alice' }],
    };
    const cloud = await startFakeJiraCloud(jiraSeed);
    const dataCenter = await startFakeJiraDataCenter(jiraSeed);
    const openProject = await startFakeOpenProject({
      projects: [{ identifier: 'web', name: 'Website' }, ...seedOpenProjectProjects(2)],
      workPackages: [
        { project: 'web', subject: 'Fix login bug', status: 'New', assignee: 'carol' },
      ],
    });
    fakes.push(cloud, dataCenter, openProject);
    const connections = connectionsToEachFake(
      { cloud: cloud.url, dataCenter: dataCenter.url, openProject: openProject.url },
      { jira: alice, openProject: carol },
    );
    tokens.push(alice.token, alice.token, carol.token);
    connectionIds = connections.map((connection) => connection.id);
    ids = [
      `${connectionIds[0]}:WEB-1`,
      `${connectionIds[1]}:WEB-1`,
      `${connectionIds[2]}:1`,
      `${connectionIds[0]}:WEB`,
      `${connectionIds[2]}:web`,
    ];
    tools = await connectTools(contextOver(connections));
  });
  afterAll(async () => {
    await tools.close();
    for (const fake of fakes) await fake.stop();
  });

  /** A value for a JSON schema, sometimes of the wrong type. */
  const valueFor = (schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> => {
    const wrong = fc.jsonValue({ maxDepth: 1 });
    if (!schema || depth > 3) return wrong;
    const options: fc.Arbitrary<unknown>[] = [];
    if (schema.enum) options.push(fc.constantFrom(...schema.enum));
    if (schema.const !== undefined) options.push(fc.constant(schema.const));
    for (const alternative of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])])
      options.push(valueFor(alternative, depth + 1));
    const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    for (const type of types) {
      if (type === 'string')
        options.push(
          fc.oneof(
            nastyString(80),
            fc.constantFrom(...ids, ...connectionIds, 'me', 'none', 'open', 'closed', 'all'),
          ),
        );
      if (type === 'integer' || type === 'number')
        options.push(
          fc.oneof(
            fc.integer({ min: schema.minimum ?? -5, max: Math.min(schema.maximum ?? 200, 200) }),
            fc.constantFrom(0, -1, 1e9, 0.5, Number.MAX_SAFE_INTEGER),
          ),
        );
      if (type === 'boolean') options.push(fc.boolean());
      if (type === 'null') options.push(fc.constant(null));
      if (type === 'array')
        options.push(fc.array(valueFor(schema.items, depth + 1), { maxLength: 3 }));
      if (type === 'object') options.push(objectFor(schema, depth + 1));
    }
    return options.length === 0
      ? wrong
      : fc.oneof({ weight: 6, arbitrary: fc.oneof(...options) }, { weight: 1, arbitrary: wrong });
  };
  const objectFor = (schema: JsonSchema, depth = 0): fc.Arbitrary<Record<string, unknown>> => {
    const properties = schema.properties ?? {};
    const record = Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [name, valueFor(property, depth)]),
    );
    return fc.record(record, { requiredKeys: [] });
  };

  it('every tool answers any arguments with a result or a clear tool error, never internal_error', async () => {
    const { tools: listed } = await tools.client.listTools();
    expect(listed.length).toBeGreaterThan(8);
    const perTool = listed.map((tool) =>
      fc.record({
        name: fc.constant(tool.name),
        args: fc.oneof(
          { weight: 4, arbitrary: objectFor(tool.inputSchema as JsonSchema) },
          {
            weight: 1,
            arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), {
              maxKeys: 4,
            }),
          },
        ),
      }),
    );
    const seen = { ok: 0, toolError: 0, rejected: 0 };
    const property = fc.asyncProperty(fc.oneof(...perTool), async ({ name, args }) => {
      let result;
      try {
        result = await tools.call<{ error?: { error_code?: string; message?: string } }>(
          name,
          args,
        );
      } catch (error) {
        // The SDK refuses arguments that do not match the schema with a protocol error (-32602).
        expect((error as { code?: number }).code).toBe(-32602);
        seen.rejected++;
        return;
      }
      if (result.isError) {
        seen.toolError++;
        expect(result.text.length).toBeGreaterThan(0);
        const code = result.structured.error?.error_code;
        if (code !== undefined) expect(code).not.toBe('internal_error');
        expect(result.text).not.toMatch(/internal error/i);
      } else {
        seen.ok++;
      }
    });
    await fc.assert(property, fuzzParameters(300, 40_000));
    // Both kinds of answer occurred: the arbitraries reach the tools' real work, not only errors.
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.toolError + seen.rejected).toBeGreaterThan(0);
    // Credentials: each fake saw only its own connection's token, and never an MCP key.
    for (const [index, fake] of fakes.entries()) {
      const recorded = fake.recordedText();
      expect(recorded).not.toMatch(/mcp_[0-9A-Za-z]{20,}/);
      for (const token of tokens)
        if (token !== tokens[index]) expect(recorded).not.toContain(token);
    }
    expect(tools.transcript.join('\n')).not.toContain(carol.token);
    expect(tools.transcript.join('\n')).not.toContain(alice.token);
  }, 90_000);
});
