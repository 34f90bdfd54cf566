import { spawn } from "node:child_process";

export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The last few KiB of stdout+stderr, for the manifest and the one-line error. */
  output: string;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  error: string | null;
}

const TAIL = 4096;

/**
 * Run an argv (no shell) in a fresh process group with a timeout. On timeout
 * the whole group is killed, so a smoke check that forks cannot outlive it.
 * Nothing of the release ever runs inside gpm's own process.
 */
export function runProcess(argv: string[], opts: { cwd: string; timeoutMs: number; env?: Record<string, string> }): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    let output = "";
    let timedOut = false;
    const keep = (d: Buffer): void => {
      output = (output + d.toString("utf8")).slice(-TAIL);
    };
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ exitCode: null, signal: null, timedOut: false, output, error: err.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code, signal, timedOut, output: output.trim(), error: null });
    });
  });
}

/** One line describing why a process check failed (or null when it passed). */
export function describeFailure(what: string, argv: string[], o: ProcessOutcome, timeoutMs: number): string | null {
  const cmd = argv.join(" ");
  if (o.error) return `${what} \`${cmd}\` could not start: ${o.error}`;
  if (o.timedOut) return `${what} \`${cmd}\` did not finish within ${Math.round(timeoutMs / 1000)}s`;
  if (o.exitCode !== 0) {
    const last = o.output.split("\n").filter(Boolean).pop() ?? "";
    return `${what} \`${cmd}\` exited ${o.exitCode ?? o.signal}${last ? `: ${last.slice(0, 200)}` : ""}`;
  }
  return null;
}
