import type { AppState } from '../../../preload/contract';
import { getApi } from '../api';
import { useAction } from '../hooks';
import { Button, ErrorMessage } from './Status';

/**
 * The app configured Cursor by itself after sign-in (the setting is on by default): say so, where,
 * and offer to undo it (the file goes back exactly as it was) or keep it.
 */
export function AutoConfigureBanner({
  state,
  onState,
}: {
  state: AppState;
  onState: (state: AppState) => void;
}) {
  const undo = useAction(() => getApi().undoAutoConfigure());
  const keep = useAction(() => getApi().keepAutoConfigure());
  const done = state.autoConfigured;
  if (!done) return null;
  return (
    <div className="banner banner-info" role="status" data-testid="auto-configured-banner">
      <div>
        <strong>{done.label} is set up.</strong> PM MCP added itself to{' '}
        <span className="mono">{done.path}</span>, so {done.label} can reach your projects.
        <ErrorMessage error={undo.error ?? keep.error} />
      </div>
      <div className="row-actions">
        <Button
          variant="secondary"
          pending={undo.pending}
          pendingLabel="Undoing…"
          label={`Undo the automatic ${done.label} configuration`}
          onClick={() => void undo.run().then((next) => next && onState(next))}
        >
          Undo
        </Button>
        <Button
          variant="quiet"
          pending={keep.pending}
          pendingLabel="Keeping…"
          onClick={() => void keep.run().then((next) => next && onState(next))}
        >
          Keep
        </Button>
      </div>
    </div>
  );
}
