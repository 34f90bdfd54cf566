import { GpmError, Exit } from "./errors.js";

/**
 * SIGINT/SIGTERM never kill gpm mid-step. The handler only records the signal;
 * long loops call checkAbort() at safe points (between download chunks, archive
 * entries, transaction steps). The thrown error unwinds through each phase's
 * rollback, the lock is released, and the CLI exits 130 (INT) or 143 (TERM).
 * A second signal while undoing is ignored: stopping an undo half-way is the
 * one thing worse than waiting for it.
 */
let received: NodeJS.Signals | null = null;
let installed = false;

export class AbortedError extends GpmError {
  constructor(readonly signal: NodeJS.Signals) {
    super(signal === "SIGINT" ? Exit.SIGINT : Exit.SIGTERM, `interrupted by ${signal}`, "nothing was left half-done; run the command again when ready");
  }
}

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      received ??= sig;
    });
  }
}

export function abortRequested(): NodeJS.Signals | null {
  return received;
}

/** Throw AbortedError if a signal arrived. Call only where stopping is safe. */
export function checkAbort(): void {
  if (received) throw new AbortedError(received);
}
