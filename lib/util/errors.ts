/**
 * One error class for everything the user should see. Its `code` is the exit
 * status of SPEC section 4; `hint` says what to do. Anything that is not a
 * GpmError is an internal error (exit 1, stack trace with --log-level debug).
 */
export const Exit = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  BLOCKED: 3,
  SMOKE_FAILED: 4,
  LOCKED: 5,
  INTEGRITY: 6,
  RESTORE_FAILED: 7,
  /** The swap is committed (the new tree is live) but finishing it failed, e.g. a full disk: the next command finishes it. */
  COMMITTED: 8,
  SIGINT: 130,
  SIGTERM: 143,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

export class GpmError extends Error {
  readonly code: ExitCode;
  readonly hint: string | undefined;
  /** Machine-readable detail for --json output (check results, drift list, ...). */
  readonly details: unknown;
  constructor(code: ExitCode, message: string, hint?: string, details?: unknown) {
    super(message);
    this.name = "GpmError";
    this.code = code;
    this.hint = hint;
    this.details = details;
  }
}

export const fail = (message: string, hint?: string): GpmError => new GpmError(Exit.ERROR, message, hint);
export const blocked = (message: string, hint?: string, details?: unknown): GpmError =>
  new GpmError(Exit.BLOCKED, message, hint, details);
export const integrity = (message: string, hint?: string): GpmError => new GpmError(Exit.INTEGRITY, message, hint);

/** The errno code of a Node system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A file-system error the disk or the site's setup can cause (a read-only
 * mount, permissions, a full disk), as one line naming the place and what to
 * do, instead of "a bug in gpm". Undefined for anything else.
 */
export function fsRefusal(err: unknown): GpmError | undefined {
  const code = errnoCode(err);
  const p = typeof err === "object" && err !== null && "path" in err ? String((err as { path: unknown }).path) : undefined;
  if (!p || !code) return undefined;
  switch (code) {
    case "EROFS":
      return fail(`cannot write ${p}: the file system is mounted read-only (EROFS)`, "remount it read-write and run the command again");
    case "EACCES":
    case "EPERM":
      return fail(`cannot change ${p}: permission denied (${code})`, "run gpm as the site's owner (or root), or give that user write access to it");
    case "ENOSPC":
    case "EDQUOT":
      return fail(`cannot write ${p}: no space left on the file system (${code})`, "free some space there and run the command again");
    default:
      return undefined;
  }
}
