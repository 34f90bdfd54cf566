/** Fixtures shared by the recovery-mode and migration tests: manifests on disk and a log that can be read back. */
export { formFields } from "../../helpers/html.js";
import fsp from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "../../../lib/util/log.js";
import { writeManifest, type Manifest } from "../../../lib/store/manifest.js";
import type { Installation } from "../../../lib/install/installation.js";

export function sampleManifest(id: string, from: string | null, to: string, over: Partial<Manifest> = {}): Manifest {
  return {
    id,
    seq: 0,
    pinned: false,
    kind: "upgrade",
    from,
    to,
    createdAt: "2025-10-17T23:53:48.000Z",
    finishedAt: "2025-10-17T23:54:01.000Z",
    status: "finalized",
    package: { url: `https://example.invalid/grav-update-${to}.zip`, sha256: "0".repeat(64), size: 123 },
    runtime: { node: "20.20.2", php: null, os: "linux" },
    packages: [],
    core: ["system", "bin", "vendor", "index.php"],
    preserved: ["user"],
    files: { count: 10, bytes: 1000 },
    timings: { promote: 12 },
    downtimeMs: 12,
    smoke: null,
    error: null,
    swaps: [],
    ...over,
  };
}

export async function storeManifest(inst: Installation, m: Manifest): Promise<Manifest> {
  await fsp.mkdir(path.join(inst.paths.snapshots, m.id), { recursive: true });
  await writeManifest(inst, m);
  return m;
}

/** A pino logger whose lines (their `msg`) the test can read. */
export function captureLog(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) messages.push((JSON.parse(line) as { msg?: string }).msg ?? "");
      cb();
    },
  });
  return { log: pino({ level: "debug" }, stream), messages };
}

