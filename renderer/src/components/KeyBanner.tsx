import type { AppState } from '../../../preload/contract';
import { getApi } from '../api';
import { useAction } from '../hooks';
import { Button, ErrorMessage } from './Status';

/**
 * This machine's key was revoked or has expired: editors are failing right now. One click mints
 * a new key; the local connection picks it up at once, so nothing else needs to change.
 */
export function KeyBanner({
  state,
  onState,
}: {
  state: AppState;
  onState: (state: AppState) => void;
}) {
  const replace = useAction(() => getApi().replaceRejectedKey());
  if (state.keyHealth === 'rejected') {
    return (
      <div className="banner banner-error" role="alert" data-testid="key-rejected-banner">
        <div>
          <strong>This computer&apos;s key no longer works.</strong> It was revoked or has expired,
          so your editors cannot reach your projects.
          <ErrorMessage error={replace.error} />
        </div>
        <Button
          variant="primary"
          pending={replace.pending}
          pendingLabel="Getting a new key…"
          onClick={() => void replace.run().then((next) => next && onState(next))}
        >
          Get a new key
        </Button>
      </div>
    );
  }
  if (state.keyHealth === 'expiring' && state.key?.expiresAt) {
    return (
      <div className="banner banner-warn" role="status">
        <div>
          <strong>This computer&apos;s key expires soon.</strong> Rotate it on the Keys page to keep
          your editors connected.
        </div>
      </div>
    );
  }
  return null;
}
