import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { snapshotTree } from "../../../lib/stage/snapshot-user.js";
import { removeTree } from "../../../lib/util/fsx.js";
import { Exit } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { tmpDir, treeState, writeTree } from "../../helpers/fixtures.js";
import { listing, rejectsGpm } from "./helpers.js";

const OLD = new Date("2020-01-02T03:04:05Z");
const OLDER = new Date("2019-05-06T07:08:09Z");
const opts = { progress: noProgress, log: silentLogger };

/** mtime and atime of `rels` below `dir` (lstat only: reading would move atimes). */
async function times(dir: string, rels: string[]): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  for (const rel of rels) {
    const st = await fsp.lstat(path.join(dir, rel));
    out[rel] = [st.mtimeMs, st.atimeMs];
  }
  return out;
}

describe("stage/snapshot-user", () => {
  it("copies a tree keeping modes, times, and symlinks as links (never followed)", async () => {
    const d = await tmpDir();
    const src = path.join(d, "user");
    await writeTree(src, {
      "pages/01.home/default.md": "# Home\n",
      "accounts/admin.yaml": { content: "password: x\n", mode: 0o600 },
      "bin/run.sh": { content: "#!/bin/sh\n", mode: 0o750 },
      "data/setgid-file": { content: "s", mode: 0o2755 },
      "empty": { dir: true, mode: 0o700 },
      "home.md": { symlink: "pages/01.home/default.md" },
      "dangling": { symlink: "does/not/exist" },
      "outside": { symlink: "/etc" },
      "pages-link": { symlink: "pages" },
    });
    await fsp.mkdir(path.join(src, "readonly"));
    await fsp.writeFile(path.join(src, "readonly", "locked.txt"), "l");
    await fsp.chmod(path.join(src, "readonly"), 0o555);
    // Old, distinct times everywhere (deepest first, so folders keep theirs).
    const rels = [...(await listing(src))].reverse().concat([""]);
    for (const rel of rels) {
      const p = path.join(src, rel);
      if ((await fsp.lstat(p)).isSymbolicLink()) await fsp.lutimes(p, OLDER, OLD);
      else await fsp.utimes(p, OLDER, OLD);
    }
    const before = await times(src, rels);

    const dest = path.join(d, "snapshots", "id", "user");
    const res = await snapshotTree(src, dest, opts);
    assert.deepEqual(await times(dest, rels), before, "mtimes and atimes kept, folders and links included");

    assert.deepEqual(await treeState(dest), await treeState(src), "types, modes (setgid too), contents and link targets");
    assert.equal(await fsp.readlink(path.join(dest, "outside")), "/etc");
    assert.ok((await fsp.lstat(path.join(dest, "pages-link"))).isSymbolicLink(), "a link to a folder stays a link");
    const mtimes = (t: Record<string, [number, number]>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v[0]]));
    assert.deepEqual(mtimes(await times(src, rels)), mtimes(before), "the source is not changed");
    assert.equal(res.files, 5);
    assert.equal(res.bytes, 7 + 12 + 10 + 1 + 1);
  });

  it("keeps modes whatever the umask (setuid, setgid, sticky too) and finishes nested read-only folders deepest first", async () => {
    const d = await tmpDir();
    const src = path.join(d, "user");
    await writeTree(src, {
      "a/plain.txt": { content: "p", mode: 0o644 },
      "a/exec.sh": { content: "e", mode: 0o755 },
      "a/open.txt": { content: "o", mode: 0o666 },
      "a/setuid": { content: "u", mode: 0o4755 },
      "a/setgid": { content: "g", mode: 0o2755 },
      "shared": { dir: true, mode: 0o1777 },
      "group": { dir: true, mode: 0o2775 },
      "ro/l1/l2/l3/deep.txt": "deep",
    });
    await fsp.chmod(path.join(src, "shared"), 0o1777);
    await fsp.chmod(path.join(src, "group"), 0o2775);
    for (const rel of ["ro/l1/l2/l3", "ro/l1/l2", "ro/l1", "ro"]) await fsp.chmod(path.join(src, rel), 0o555);
    await fsp.utimes(path.join(src, "ro/l1/l2"), OLDER, OLD);
    const old = process.umask(0o077);
    try {
      await snapshotTree(src, path.join(d, "copy"), opts);
    } finally {
      process.umask(old);
    }
    assert.deepEqual(await treeState(path.join(d, "copy")), await treeState(src), "every mode as in the source");
    const st = await fsp.stat(path.join(d, "copy", "ro/l1/l2"));
    assert.equal(st.mtimeMs, OLD.getTime(), "a folder's time is set after everything below it was written");
  });

  it("treats a missing source as empty and creates nothing", async () => {
    const d = await tmpDir();
    const res = await snapshotTree(path.join(d, "user"), path.join(d, "snap", "user"), opts);
    assert.deepEqual(res, { files: 0, bytes: 0 });
    assert.equal(fs.existsSync(path.join(d, "snap")), false);
  });

  it("never overwrites: an existing destination is an error", async () => {
    const d = await tmpDir();
    await writeTree(path.join(d, "user"), { "a.txt": "a" });
    await writeTree(path.join(d, "dest"), { "keep.txt": "k" });
    await rejectsGpm(snapshotTree(path.join(d, "user"), path.join(d, "dest"), opts), Exit.ERROR, /EEXIST/);
    assert.deepEqual(await listing(path.join(d, "dest")), ["keep.txt"]);
  });

  it("skips excluded paths (a snapshot store inside user/)", async () => {
    const d = await tmpDir();
    await writeTree(path.join(d, "user"), { "a.txt": "a", "snapshots/old/big.bin": "x" });
    await snapshotTree(path.join(d, "user"), path.join(d, "copy"), { ...opts, exclude: [path.join(d, "user", "snapshots")] });
    assert.deepEqual(await listing(path.join(d, "copy")), ["a.txt"]);
  });

  it("copies many files (on its worker thread), reporting progress in files", async () => {
    const d = await tmpDir();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 600; i++) spec[`d${i % 7}/sub${i % 3}/f${i}.txt`] = `file ${i}\n`;
    await writeTree(path.join(d, "user"), spec);
    let last = 0;
    let total = 0;
    const res = await snapshotTree(path.join(d, "user"), path.join(d, "copy"), {
      ...opts,
      progress: (_l, t) => {
        total = t;
        return { update: (n) => (last = n), stop() {} };
      },
    });
    assert.equal(res.files, 600);
    assert.equal(total, 600);
    assert.equal(last, 600);
    assert.deepEqual(await treeState(path.join(d, "copy")), await treeState(path.join(d, "user")));
  });

  it("stops when its signal is aborted, with that reason", async () => {
    const d = await tmpDir();
    await writeTree(path.join(d, "user"), { "a.txt": "a" });
    const ac = new AbortController();
    ac.abort(new Error("download failed"));
    await assert.rejects(snapshotTree(path.join(d, "user"), path.join(d, "copy"), { ...opts, signal: ac.signal }), /download failed/);
  });

  it("stops part-way when its signal is aborted mid-copy: rejects with that reason, and nothing is written afterwards", async () => {
    const d = await tmpDir();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) spec[`d${i % 7}/f${i}.txt`] = `file ${i}\n`;
    await writeTree(path.join(d, "user"), spec);
    const ac = new AbortController();
    const reason = new Error("extraction failed");
    const progress = () => ({ update: (n: number) => (n > 0 && !ac.signal.aborted ? ac.abort(reason) : undefined), stop() {} });
    await assert.rejects(snapshotTree(path.join(d, "user"), path.join(d, "copy"), { ...opts, progress, signal: ac.signal }), (err) => err === reason);
    const copied = (await listing(path.join(d, "copy"))).filter((p) => p.endsWith(".txt")).length;
    assert.ok(copied > 0 && copied < 3000, `stopped part-way (${copied} files)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await listing(path.join(d, "copy"))).filter((p) => p.endsWith(".txt")).length, copied, "the worker had ended");
  });

  it("removeTree removes a copy holding read-only folders", async () => {
    const d = await tmpDir();
    await writeTree(path.join(d, "t"), { "ro/deep/f.txt": "f" });
    await fsp.chmod(path.join(d, "t", "ro", "deep"), 0o555);
    await fsp.chmod(path.join(d, "t", "ro"), 0o555);
    await removeTree(path.join(d, "t"));
    assert.equal(fs.existsSync(path.join(d, "t")), false);
    await removeTree(path.join(d, "t")); // absent: fine
  });
});
