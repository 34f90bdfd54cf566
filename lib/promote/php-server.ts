import net from "node:net";
import { spawn } from "node:child_process";

export interface PhpServerCheck {
  router: string;
  path: string;
  failPattern: string | null;
}

export interface PhpServerOutcome {
  /** Null when it passed; else one line saying why. */
  reason: string | null;
  command: string[];
  status: number | null;
  /** The server's own output (stderr: its request log and PHP's errors), then the start of the body. */
  output: string;
}

const TAIL = 4096;
/** Enough of the page to find a fatal error or Grav's "Please run" in; the rest is not read. */
const BODY_CAP = 256 * 1024;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The `phpServer` smoke check (SPEC section 2): `php -S 127.0.0.1:<free port>
 * <router>` in the promoted root, in a fresh process group, `path` requested
 * once; it passes on 2xx/3xx whose body does not match `failPattern`. The
 * whole check — start, request, stop — is bounded by `timeoutMs`; at the end
 * the server's whole group is killed and its output no longer read.
 * GPM_SMOKE_CHECK=1 in its environment lets webserver/gpm-guard.php through
 * while the maintenance flag is up (a request header could be forged; the
 * process environment cannot).
 */
export async function runPhpServerCheck(root: string, check: PhpServerCheck, o: { timeoutMs: number; env: Record<string, string> }): Promise<PhpServerOutcome> {
  const deadline = Date.now() + o.timeoutMs;
  const left = (): number => deadline - Date.now();
  let last: PhpServerOutcome | null = null;
  // A port found free can be taken before php binds it: one more try on another port.
  for (let attempt = 0; attempt < 2 && left() > 0; attempt++) {
    const port = await freePort();
    last = await once(root, check, port, o.env, deadline);
    if (!last.reason?.includes("Address already in use")) return last;
  }
  return last ?? { reason: `smoke check did not finish within ${Math.round(o.timeoutMs / 1000)}s`, command: ["php", "-S", "127.0.0.1:0", check.router], status: null, output: "" };
}

async function once(root: string, check: PhpServerCheck, port: number, env: Record<string, string>, deadline: number): Promise<PhpServerOutcome> {
  const command = ["php", "-S", `127.0.0.1:${port}`, check.router];
  const secs = Math.max(1, Math.round((deadline - Date.now()) / 1000));
  let output = "";
  const keep = (d: Buffer): void => {
    output = (output + d.toString("utf8")).slice(-TAIL);
  };
  const child = spawn(command[0]!, command.slice(1), { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited: string | null = null;
  let spawnError: string | null = null;
  child.on("error", (err) => (spawnError = err.message));
  child.on("exit", (code, signal) => (exited = `exited ${code ?? signal}`));
  const result = (reason: string | null, status: number | null, body = ""): PhpServerOutcome => ({
    reason,
    command,
    status,
    output: [output.trim(), body.slice(0, 1024)].filter(Boolean).join("\n"),
  });
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), Math.max(0, deadline - Date.now()));
  try {
    for (;;) {
      if (spawnError) return result(`smoke check \`${command.join(" ")}\` could not start: ${spawnError}`, null);
      if (exited) return result(`smoke check \`${command.join(" ")}\` ${exited}: ${lastLine(output) || "(no output)"}`, null);
      if (Date.now() >= deadline) return result(`smoke check \`${command.join(" ")}\` did not start listening within ${secs}s`, null);
      if (await canConnect(port)) break;
      await sleep(25);
    }
    const url = `http://127.0.0.1:${port}${check.path}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { "X-GPM-Smoke-Check": "1" }, redirect: "manual", signal: ac.signal });
    } catch (err) {
      return result(`smoke check GET ${check.path} ${ac.signal.aborted ? `got no answer within ${secs}s` : `failed: ${(err as Error).message}`}`, null);
    }
    let body = "";
    try {
      body = await readCapped(res, BODY_CAP);
    } catch {
      return result(`smoke check GET ${check.path} answered ${res.status} but the body did not arrive within ${secs}s`, res.status);
    }
    if (res.status < 200 || res.status > 399) return result(`smoke check GET ${check.path} answered ${res.status}${firstWords(body)}`, res.status, body);
    if (check.failPattern !== null) {
      const m = new RegExp(check.failPattern).exec(body);
      if (m) return result(`smoke check GET ${check.path} answered ${res.status} with "${m[0]}" in the page${firstWords(body.slice(m.index))}`, res.status, body);
    }
    return result(null, res.status, body);
  } finally {
    clearTimeout(timer);
    ac.abort();
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    child.stdout.destroy();
    child.stderr.destroy();
    child.unref();
  }
}

async function readCapped(res: Response, cap: number): Promise<string> {
  if (!res.body) return "";
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    parts.push(Buffer.from(chunk));
    size += chunk.byteLength;
    if (size >= cap) break;
  }
  return Buffer.concat(parts).toString("utf8");
}

const lastLine = (s: string): string => (s.split("\n").filter(Boolean).pop() ?? "").slice(0, 200);

/** `: <the page's first words>`, tags dropped, for the one-line reason. */
function firstWords(body: string): string {
  const text = body.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 120);
  return text ? `: ${text}` : "";
}
