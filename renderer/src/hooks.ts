import { useCallback, useEffect, useRef, useState } from 'react';
import type { DesktopApiError } from '../../preload/contract';
import { toApiError } from './api';

export interface Action<A extends unknown[], R> {
  /** Runs the call; resolves to its result, or `undefined` when it failed (see `error`). */
  run: (...args: A) => Promise<R | undefined>;
  pending: boolean;
  error: DesktopApiError | null;
  reset: () => void;
}

/** One call the user triggers, with its loading and error state. */
export function useAction<A extends unknown[], R>(call: (...args: A) => Promise<R>): Action<A, R> {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<DesktopApiError | null>(null);
  const callRef = useRef(call);
  useEffect(() => {
    callRef.current = call;
  });

  const run = useCallback(async (...args: A): Promise<R | undefined> => {
    setPending(true);
    setError(null);
    try {
      return await callRef.current(...args);
    } catch (caught) {
      setError(toApiError(caught));
      return undefined;
    } finally {
      setPending(false);
    }
  }, []);
  const reset = useCallback(() => setError(null), []);
  return { run, pending, error, reset };
}

export interface Loaded<T> {
  data: T | undefined;
  /** Replace the data with what a mutation returned (e.g. the key list after a revoke). */
  setData: (data: T) => void;
  loading: boolean;
  error: DesktopApiError | null;
  reload: () => void;
}

/** Data a screen loads when it opens, with its loading and error state and a reload. */
export function useLoad<T>(load: () => Promise<T>): Loaded<T> {
  const [version, setVersion] = useState(0);
  const [loadedVersion, setLoadedVersion] = useState(-1);
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<DesktopApiError | null>(null);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });

  useEffect(() => {
    let current = true;
    loadRef.current().then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(null);
        setLoadedVersion(version);
      },
      (caught: unknown) => {
        if (!current) return;
        setError(toApiError(caught));
        setLoadedVersion(version);
      },
    );
    return () => {
      current = false;
    };
  }, [version]);

  const reload = useCallback(() => setVersion((value) => value + 1), []);
  return { data, setData, loading: loadedVersion !== version, error, reload };
}

export interface ConfirmedAction extends Action<[], unknown> {
  /** The person asked for it and is being asked once more (see ConfirmAction). */
  confirming: boolean;
  setConfirming: (confirming: boolean) => void;
  /** Runs the call; on success stops confirming and hands the result on. */
  confirm: () => Promise<void>;
}

/** A destructive call (revoke, remove) that is confirmed first, and what follows its success. */
export function useConfirmedAction<R>(
  call: () => Promise<R>,
  onDone: (result: R) => void,
): ConfirmedAction {
  const action = useAction(call);
  const [confirming, setConfirming] = useState(false);
  const confirm = async () => {
    const result = await action.run();
    if (result === undefined) return;
    setConfirming(false);
    onDone(result);
  };
  return { ...action, confirming, setConfirming, confirm };
}
