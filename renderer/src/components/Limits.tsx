import { useId, useState } from 'react';
import {
  pmToolNames,
  type AccessLimits,
  type LimitsChange,
  type ProviderInfo,
} from '../../../preload/contract';
import { useAction } from '../hooks';
import { Button, ErrorMessage } from './Status';

/** What a key or a grant may touch beyond its scope, in words; connection ids shown by name. */
export function LimitsSummary({
  limits,
  providers,
}: {
  limits: AccessLimits;
  providers: ProviderInfo[];
}) {
  if (!limits.allowedTools && !limits.allowedProjects) {
    return <span className="muted">None</span>;
  }
  const nameOf = (entry: string) => {
    const [connectionId = '', project] = entry.split(':');
    const name = providers.find((p) => p.id === connectionId)?.name ?? connectionId;
    return project ? `${name}: ${project}` : `${name} (all projects)`;
  };
  return (
    <span className="small">
      {limits.allowedTools && (
        <span className="block" data-testid="limit-tools">
          Tools: {limits.allowedTools.join(', ')}
        </span>
      )}
      {limits.allowedProjects && (
        <span className="block" data-testid="limit-projects">
          Projects: {limits.allowedProjects.map(nameOf).join(', ')}
        </span>
      )}
    </span>
  );
}

export interface LimitsEditorProps<T> {
  limits: AccessLimits;
  /** What is limited, in the legend: "key", "editor". */
  subject: string;
  providers: ProviderInfo[];
  /** Sends the change (setKeyLimits, setGrantLimits); resolves with the list after. */
  save: (change: LimitsChange) => Promise<T>;
  onSaved: (result: T) => void;
  onCancel: () => void;
}

/**
 * Edits a key's or a grant's limits: tick the tools (none ticked: every tool) and the
 * connections, and name single projects as "<connection>:<project key>". The server checks names
 * and ownership.
 */
export function LimitsEditor<T>({
  limits,
  subject,
  providers,
  save: send,
  onSaved,
  onCancel,
}: LimitsEditorProps<T>) {
  const save = useAction(send);
  const id = useId();
  const [tools, setTools] = useState<Set<string>>(new Set(limits.allowedTools ?? []));
  const projects = limits.allowedProjects ?? [];
  const [connections, setConnections] = useState<Set<string>>(
    new Set(projects.filter((entry) => !entry.includes(':'))),
  );
  const [single, setSingle] = useState(projects.filter((entry) => entry.includes(':')).join(', '));

  const toggle = (set: Set<string>, value: string, update: (next: Set<string>) => void) => {
    const next = new Set(set);
    if (next.has(value)) next.delete(value);
    else next.add(value);
    update(next);
  };

  const onSave = async () => {
    const entries = [
      ...connections,
      ...single
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    ];
    const next = await save.run({
      allowedTools: tools.size > 0 ? pmToolNames.filter((tool) => tools.has(tool)) : null,
      allowedProjects: entries.length > 0 ? entries : null,
    });
    if (next !== undefined) onSaved(next);
  };

  return (
    <div className="limits-editor" data-testid="limits-editor">
      <fieldset>
        <legend>Tools this {subject} may use</legend>
        <p className="small muted">None ticked: every tool its scope allows.</p>
        <div className="checkbox-grid">
          {pmToolNames.map((tool) => (
            <label key={tool} className="checkbox">
              <input
                type="checkbox"
                checked={tools.has(tool)}
                onChange={() => toggle(tools, tool, setTools)}
              />
              <span className="mono">{tool}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Connections and projects it may touch</legend>
        <p className="small muted">Nothing chosen: every connection and project.</p>
        <div className="checkbox-grid">
          {providers.map((provider) => (
            <label key={provider.id} className="checkbox">
              <input
                type="checkbox"
                checked={connections.has(provider.id)}
                onChange={() => toggle(connections, provider.id, setConnections)}
              />
              <span>{provider.name} (all projects)</span>
            </label>
          ))}
        </div>
        <label htmlFor={`${id}-projects`}>Single projects</label>
        <p className="small muted" id={`${id}-projects-help`}>
          Comma-separated &quot;connection id:project key&quot;, as list_projects shows project ids
          {providers.length > 0 &&
            ` (${providers.map((provider) => `${provider.name}: ${provider.id}`).join('; ')})`}
          .
        </p>
        <input
          id={`${id}-projects`}
          className="mono"
          value={single}
          aria-describedby={`${id}-projects-help`}
          onChange={(event) => setSingle(event.target.value)}
          spellCheck={false}
        />
      </fieldset>
      <ErrorMessage error={save.error} onDismiss={save.reset} />
      <div className="actions">
        <Button
          variant="primary"
          pending={save.pending}
          pendingLabel="Saving…"
          onClick={() => void onSave()}
        >
          Save limits
        </Button>
        <Button variant="quiet" onClick={onCancel} disabled={save.pending}>
          Cancel
        </Button>
      </div>
    </div>
  );
}
