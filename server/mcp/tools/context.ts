import type { ProjectScope } from '../../keys/policy.js';
import type { ProviderClient, ProviderType } from '../../providers/index.js';

/**
 * One of the calling user's provider connections, as the tools see it. No secret is reachable from
 * here except through `client()`, which builds a provider client holding the credential privately.
 */
export interface ToolConnection {
  id: string;
  providerType: ProviderType;
  name: string;
  baseUrl: string;
  isActive: boolean;
  lastCheckedAt: string | null;
  lastCheckOk: boolean | null;
  lastCheckMessage: string | null;
  client(): ProviderClient;
}

/**
 * What the PM tools need from the server for one MCP session. `connections` only ever yields the
 * calling user's own connections (the server guarantees it); `get` of anyone else's id returns
 * undefined, which the tools report exactly like an id that does not exist.
 */
export interface ToolContext {
  /** The MCP key's scope: `read` keys get no write tools. */
  scope: 'read' | 'write';
  connections: {
    listActive(): Promise<ToolConnection[]>;
    listAll(): Promise<ToolConnection[]>;
    get(id: string): Promise<ToolConnection | undefined>;
  };
  /**
   * Operator-wide (`PM_MCP_TOOLS`): only these tools exist; the others are not registered at all.
   * Absent or null: every tool the scope allows.
   */
  enabledTools?: readonly string[] | null;
  /**
   * The credential's tool allow-list: another tool is hidden from `tools/list` and a call to it is
   * a tool error naming the policy. Absent or null: no limit.
   */
  allowedTools?: readonly string[] | null;
  /**
   * The credential's project allow-list: lists and searches are restricted at the provider query
   * and re-checked after; reads and writes elsewhere are refused. Absent or null: no limit.
   */
  projects?: ProjectScope | null;
  /**
   * The provider timeout, and the hard deadline of every tool call (deadline.ts): a read reports
   * a provider that has not answered by then as timed out (keeping the others' results), a write
   * ends with a timeout whose outcome is unknown; retries and their waits count. Default 10 s.
   */
  perProviderTimeoutMs?: number;
  /**
   * Called with an unexpected error (a bug, not a provider failure) before the tool answers with a
   * generic message; the server logs it. Provider errors never reach it.
   */
  onUnexpectedError?: (error: unknown, tool: string) => void;
  /**
   * Called when a call reached its deadline, with how long it ran and how late the deadline's
   * timer fired (a busy event loop); the server logs it.
   */
  onDeadline?: (tool: string, elapsedMs: number, timerLateMs: number) => void;
}

export const defaultPerProviderTimeoutMs = 10_000;
export const defaultPageSize = 20;
export const maxPageSize = 50;
/** Long text is cut here so one result stays small enough for a model's context. */
export const maxDescriptionChars = 4_000;
export const maxCommentChars = 1_000;
export const maxProjectDescriptionChars = 300;
/** A provider field asked for with `fields` is cut here (its JSON text, when not a string). */
export const maxFieldValueChars = 1_000;
/**
 * The documented bound on one list result: when the items of a page would make its structured
 * content larger than this many characters of JSON, the page ends early and `next_cursor` carries
 * on from the first item left out (see `pagedFanOut`).
 */
export const maxListResultChars = 48_000;
