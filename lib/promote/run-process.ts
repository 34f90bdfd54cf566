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
/** After the command itself exited, how long its output may stay open (a child it left behind holding it). */
const DRAIN_MS = 2000;

/**
 * Run an argv (no shell) in a fresh process group with a deadline (invariant
 * 9). At the deadline the whole group is killed and gpm stops reading, so a
 * check that forks cannot outlive it. A child that escaped the group
 * (`setsid sleep 300 &`) may keep the pipes open after the command exited:
 * gpm then waits DRAIN_MS at most (never past the deadline) for the last
 * output, kills the group and stops reading — it never waits on a pipe.
 * Nothing of the release ever runs inside gpm's own process.
 */
export function runProcess(argv: string[], opts: { cwd: string; timeoutMs: number; env?: Record<string, string> }): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    let output = "";
    let timedOut = false;
    let settled = false;
    const keep = (d: Buffer): void => {
      output = (output + d.toString("utf8")).slice(-TAIL);
    };
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // The group is gone already (or never was: spawn failed).
      }
    };
    const timers: NodeJS.Timeout[] = [];
    const finish = (o: Omit<ProcessOutcome, "output">): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      killGroup();
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      resolve({ ...o, output: output.trim() });
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const started = Date.now();
    timers.push(
      setTimeout(() => {
        timedOut = true;
        finish({ exitCode: null, signal: "SIGKILL", timedOut, error: null });
      }, opts.timeoutMs),
    );
    child.on("error", (err) => finish({ exitCode: null, signal: null, timedOut: false, error: err.message }));
    child.on("exit", (code, signal) => {
      const left = Math.max(0, Math.min(DRAIN_MS, opts.timeoutMs - (Date.now() - started)));
      timers.push(setTimeout(() => finish({ exitCode: code, signal, timedOut: false, error: null }), left));
    });
    child.on("close", (code, signal) => finish({ exitCode: code, signal, timedOut, error: null }));
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
