import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { tmpDir, makeSite, makeFeed, releaseTree, cliAt, treeState, treeHash, nameKey, type RunResult } from "../helpers/fixtures.js";

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON documents under test */

/**
 * Issue 9 item 6: what a host's tree really holds goes through upgrade,
 * rollback and redo as it is — user/ as a symbolic link (to a folder inside
 * or outside the root), sparse files (the snapshot keeps their holes), and
 * file names that are not UTF-8 (Latin-1 uploads).
 */
describe("e2e: tree fidelity — linked user/, sparse files, names that are not UTF-8", function () {
  this.timeout(180_000);

  interface Site {
    base: string;
    root: string;
    gpm: (...a: string[]) => Promise<RunResult>;
    json: (...a: string[]) => Promise<Record<string, any>>;
  }
  const site = async (extra: (root: string, base: string) => Promise<void> = async () => undefined, o: { postUpgrade?: string } = {}): Promise<Site> => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.0", o.postUpgrade ? { config: { postUpgrade: ["node", "bin/post.mjs"] } } : {});
    await extra(root, base);
    const tree = o.postUpgrade ? releaseTree("1.7.1", { extra: { "bin/post.mjs": o.postUpgrade } }) : undefined;
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.7.1", ...(tree ? { tree } : {}) }]);
    return { base, root, ...cliAt(root, feed) };
  };
  const ok = async (s: Site, ...a: string[]): Promise<RunResult> => {
    const r = await s.gpm(...a);
    assert.equal(r.code, 0, `${a.join(" ")}: ${r.stderr}`);
    return r;
  };
  /** gpm's own records and state, and the cache it empties: not the site's content. */
  const gpmOwn = (p: string): boolean => /^(snapshots|\.gpm)(\/|$)/.test(p) || /(^|\/)data\/upgrades(\/|$)/.test(p) || /(^|\/)data$/.test(p) || /^cache(\/|$)/.test(p);
  /** The site's tree, links not followed (a linked user/ is one entry here). */
  const siteTree = (root: string): Promise<Record<string, unknown>> => treeState(root, { exclude: gpmOwn });
  const snapshotId = async (root: string): Promise<string> => (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => !n.startsWith("."))[0]!;

  describe("user/ as a symbolic link stays a link through upgrade, rollback and redo", () => {
    for (const where of ["outside", "inside"] as const) {
      it(`user/ → a folder ${where} the root`, async () => {
        let target = "";
        const s = await site(async (root, base) => {
          // Hosts keep the content elsewhere and link it in (outside: an absolute link; inside: relative).
          const real = where === "outside" ? path.join(base, "shared-user") : path.join(root, "data-store", "user");
          await fsp.mkdir(path.dirname(real), { recursive: true });
          await fsp.rename(path.join(root, "user"), real);
          target = where === "outside" ? real : "data-store/user";
          await fsp.symlink(target, path.join(root, "user"));
        });
        const real = path.resolve(s.root, target);
        const baseEntries = (await fsp.readdir(s.base)).sort();
        const userBefore = await treeState(real, { exclude: gpmOwn });
        const before = await siteTree(s.root);
        const assertLink = async (when: string): Promise<void> => {
          const st = await fsp.lstat(path.join(s.root, "user"));
          assert.ok(st.isSymbolicLink(), `${when}: user/ is still a symbolic link`);
          assert.equal(await fsp.readlink(path.join(s.root, "user")), target, `${when}: with the same target`);
          assert.deepEqual(await treeState(real, { exclude: gpmOwn }), userBefore, `${when}: the linked folder's content is untouched`);
          assert.deepEqual((await fsp.readdir(s.base)).sort(), baseEntries, `${when}: nothing new outside the root`);
        };

        await ok(s, "self-upgrade", "-y");
        await assertLink("after the upgrade");
        const after = await siteTree(s.root);
        assert.equal((after["system/defines.php"] as any).hash, crypto.createHash("sha256").update("<?php\ndefine('GRAV_VERSION', '1.7.1');\n").digest("hex"));
        const id = await snapshotId(s.root);
        const snapUser = path.join(s.root, "snapshots", id, "user");
        assert.ok((await fsp.lstat(snapUser)).isDirectory(), "the snapshot holds a copy of the content, not the link");
        assert.deepEqual(await treeState(snapUser, { exclude: gpmOwn }), userBefore, "the copy is the linked content");

        // --with-user is refused on a linked user/: one line, exit 1, nothing changed at all.
        const whole = async (): Promise<string> => `${await treeHash(s.root)} ${await treeHash(real)} ${(await fsp.readdir(s.base)).join(",")}`;
        const unchanged = await whole();
        const refused = await s.gpm("rollback", "--with-user");
        assert.equal(refused.code, 1, refused.stderr);
        assert.equal(refused.stderr.trim().split("\n").length, 1, `one line: ${refused.stderr}`);
        assert.match(refused.stderr, /^error: --with-user: .*user is a symbolic link — .*without --with-user/);
        assert.equal(await whole(), unchanged, "the refusal changed nothing");

        const r = await s.json("rollback");
        assert.equal(r.live, "1.7.0");
        assert.equal(r.withUser, false);
        await assertLink("after the rollback");
        assert.deepEqual(await siteTree(s.root), before, "the 1.7.0 tree, byte for byte, user/ the same link");

        assert.equal((await s.json("rollback", id)).direction, "redo");
        await assertLink("after the redo");
        assert.deepEqual(await siteTree(s.root), after, "the 1.7.1 tree again");
      });
    }
  });

  describe("a failed postUpgrade on a linked user/: the content is put back behind the link, the link stays", () => {
    /** The release's own step changes user/ (through the link: a page, a config line, a deleted account, the folder's mode) and fails. */
    const POST = `#!/usr/bin/env node
import fs from "node:fs";
fs.appendFileSync("user/config/site.yaml", "migrated: true\\n");
fs.mkdirSync("user/pages/02.migrated", { recursive: true });
fs.writeFileSync("user/pages/02.migrated/default.md", "written by postUpgrade\\n");
fs.rmSync("user/accounts/admin.yaml");
fs.chmodSync("user", 0o700);
RELINK
process.exit(3);
`;
    const linked = async (where: "outside" | "inside", post: string): Promise<{ s: Site; target: string; real: string }> => {
      let target = "";
      const s = await site(
        async (root, base) => {
          const real = where === "outside" ? path.join(base, "shared-user") : path.join(root, "data-store", "user");
          await fsp.mkdir(path.dirname(real), { recursive: true });
          await fsp.rename(path.join(root, "user"), real);
          await fsp.chmod(real, 0o751);
          target = where === "outside" ? real : "data-store/user";
          await fsp.symlink(target, path.join(root, "user"));
        },
        { postUpgrade: post },
      );
      return { s, target, real: path.resolve(s.root, target) };
    };

    for (const where of ["outside", "inside"] as const) {
      it(`user/ → a folder ${where} the root: exit 4, the same link, the linked folder byte for byte`, async () => {
        const { s, target, real } = await linked(where, POST.replace("RELINK", ""));
        const userBefore = await treeState(real, { exclude: gpmOwn });
        const modeBefore = (await fsp.stat(real)).mode & 0o7777;
        const before = await siteTree(s.root);
        const baseEntries = (await fsp.readdir(s.base)).sort();

        const r = await s.gpm("self-upgrade", "-y");
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, /postUpgrade/);
        const st = await fsp.lstat(path.join(s.root, "user"));
        assert.ok(st.isSymbolicLink(), "user/ is still a symbolic link");
        assert.equal(await fsp.readlink(path.join(s.root, "user")), target, "with the same target");
        assert.deepEqual(await treeState(real, { exclude: gpmOwn }), userBefore, "the linked folder's content is as before, byte for byte");
        assert.equal((await fsp.stat(real)).mode & 0o7777, modeBefore, "and its mode");
        assert.deepEqual(await siteTree(s.root), before, "the 1.7.0 tree, byte for byte");
        assert.deepEqual((await fsp.readdir(s.base)).sort(), baseEntries, "nothing new outside the root");
        // What postUpgrade left is kept for inspection, in the snapshot (a real folder, not a link).
        const kept = path.join(s.root, "snapshots", await snapshotId(s.root), "user-after-failure");
        assert.ok((await fsp.lstat(kept)).isDirectory());
        assert.equal(await fsp.readFile(path.join(kept, "pages/02.migrated/default.md"), "utf8"), "written by postUpgrade\n");
        assert.match(await fsp.readFile(path.join(kept, "config/site.yaml"), "utf8"), /migrated: true/);
        const status = await s.json("status");
        assert.equal(status.installed, "1.7.0");
        assert.equal(status.recovery, null, "no recovery mode: the restore worked");
      });
    }

    it("a postUpgrade that re-points the link: gpm refuses to write through it (exit 7, one line); the same link again + repair finishes the restore", async () => {
      const { s, target, real } = await linked("outside", POST.replace("RELINK", `fs.mkdirSync("elsewhere"); fs.rmSync("user"); fs.symlinkSync("elsewhere", "user");`));
      const userBefore = await treeState(real, { exclude: gpmOwn });
      const r = await s.gpm("self-upgrade", "-y");
      assert.equal(r.code, 7, r.stderr);
      const line = r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"));
      assert.equal(line.length, 1, r.stderr);
      assert.match(line[0]!, /user\/ was a symbolic link to .* and now points to elsewhere: gpm will not put .*user\/ back through it/);
      assert.equal(await fsp.readlink(path.join(s.root, "user")), "elsewhere", "left as postUpgrade left it");
      const snap = path.join(s.root, "snapshots", await snapshotId(s.root));
      // elsewhere/ appeared during the attempt: undo set it aside, and wrote nothing into it.
      assert.deepEqual(await fsp.readdir(path.join(snap, "appeared", "elsewhere")), [], "nothing written through the other link");
      const snapUser = path.join(snap, "user");
      assert.deepEqual(await treeState(snapUser, { exclude: gpmOwn }), userBefore, "the snapshot's copy is intact");
      assert.ok(fs.existsSync(path.join(s.root, "system", "recovery.flag")), "recovery mode: a person decides");

      // The hint's way out: user/ that link again, then repair finishes what undo began.
      await fsp.rm(path.join(s.root, "user"));
      await fsp.symlink(target, path.join(s.root, "user"));
      const rep = await s.gpm("repair");
      assert.equal(rep.code, 0, rep.stderr);
      assert.deepEqual(await treeState(real, { exclude: gpmOwn }), userBefore, "the linked folder is as before");
      assert.equal((await s.json("status")).installed, "1.7.0");
    });
  });

  it("a sparse file in user/ stays sparse in the snapshot, with the same bytes", async () => {
    const SIZE = 2 * 1024 ** 3;
    const marks: [number, string][] = [
      [0, "the start of the image"],
      [1024 ** 3 + 12345, "in the middle"],
      [SIZE - 20, "the last bytes here"],
    ];
    const s = await site(async (root) => {
      const f = path.join(root, "user", "data", "disk.img");
      await fsp.mkdir(path.dirname(f), { recursive: true });
      await fsp.writeFile(f, "");
      await fsp.truncate(f, SIZE);
      const fh = await fsp.open(f, "r+");
      for (const [at, text] of marks) await fh.write(Buffer.from(text), 0, text.length, at);
      await fh.close();
    });
    const live = path.join(s.root, "user", "data", "disk.img");
    const liveSt = await fsp.stat(live);
    assert.ok(liveSt.blocks * 512 < 1024 ** 2, "the fixture is sparse");
    await ok(s, "self-upgrade", "-y");
    const copy = path.join(s.root, "snapshots", await snapshotId(s.root), "user", "data", "disk.img");
    const st = await fsp.stat(copy);
    assert.equal(st.size, SIZE);
    assert.equal(st.mode, liveSt.mode);
    assert.ok(Math.abs(st.mtimeMs - liveSt.mtimeMs) < 1, "the modification time is kept (to the millisecond utimes takes)");
    assert.ok(st.blocks * 512 < 1024 ** 2, `the copy keeps its holes: ${st.blocks * 512} bytes allocated`);
    // Hash a few regions (not the whole 2 GiB): each mark, and some hole around it.
    const region = async (file: string, at: number): Promise<string> => {
      const fh = await fsp.open(file, "r");
      const start = Math.max(0, at - 65536);
      const buf = Buffer.alloc(Math.min(SIZE - start, 131072));
      await fh.read(buf, 0, buf.length, start);
      await fh.close();
      return crypto.createHash("sha256").update(buf).digest("hex");
    };
    for (const [at, text] of marks) {
      assert.equal(await region(copy, at), await region(live, at), `the bytes around "${text}"`);
      const fh = await fsp.open(copy, "r");
      const buf = Buffer.alloc(text.length);
      await fh.read(buf, 0, text.length, at);
      await fh.close();
      assert.equal(buf.toString(), text);
    }
    assert.equal(await region(copy, 512 * 1024 ** 2), await region(live, 512 * 1024 ** 2), "a hole reads as zeros");
  });

  it("file names that are not UTF-8 are copied and swapped byte for byte (upgrade, rollback, redo)", async () => {
    const latin = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6a, 0x70, 0x67]); // 'café.jpg' in Latin-1
    const at = (root: string, ...parts: (string | Buffer)[]): Buffer => Buffer.concat([Buffer.from(root), ...parts.flatMap((p) => [Buffer.from("/"), Buffer.isBuffer(p) ? p : Buffer.from(p)])]);
    const s = await site(async (root) => {
      fs.writeFileSync(at(root, "user/pages", latin), "an upload in Latin-1\n");
      fs.mkdirSync(at(root, "user", latin));
      fs.writeFileSync(at(root, "user", latin, "inside.txt"), "in a folder named in Latin-1\n");
      fs.symlinkSync(Buffer.concat([Buffer.from("pages/"), latin]), at(root, "user", Buffer.concat([Buffer.from("link-"), latin])));
      fs.writeFileSync(at(root, "system", latin), "a Latin-1 name in a core entry\n");
      fs.writeFileSync(at(root, latin), "a foreign top-level entry\n");
      fs.writeFileSync(at(root, "cache", latin), "cached\n");
    });
    const key = nameKey(latin);
    const before = await siteTree(s.root);
    assert.ok(`user/pages/${key}` in before && `system/${key}` in before && key in before, "the fixture holds the names");
    const userBefore = await treeState(path.join(s.root, "user"), { exclude: gpmOwn });

    const up = await ok(s, "self-upgrade", "-y");
    assert.doesNotMatch(up.stderr, /error/);
    const id = await snapshotId(s.root);
    const sp = path.join(s.root, "snapshots", id);
    assert.deepEqual(await treeState(path.join(sp, "user"), { exclude: gpmOwn }), userBefore, "the snapshot's user/ has every name, byte for byte");
    assert.deepEqual(await treeState(path.join(s.root, "user"), { exclude: gpmOwn }), userBefore, "the live user/ is untouched");
    assert.ok(fs.existsSync(at(sp, "previous/system", latin)), "the core entry went to previous/ whole");
    assert.ok(fs.existsSync(at(s.root, latin)), "the foreign entry stays");
    assert.ok(!fs.existsSync(at(s.root, "cache", latin)), "the cache was emptied, that name too");
    const after = await siteTree(s.root);
    assert.ok(!(`system/${key}` in after));

    assert.equal((await s.json("rollback")).live, "1.7.0");
    assert.deepEqual(await siteTree(s.root), before, "the 1.7.0 tree byte for byte");
    assert.equal((await s.json("rollback", id)).direction, "redo");
    assert.deepEqual(await siteTree(s.root), after, "the 1.7.1 tree byte for byte");
    const v = await s.gpm("verify");
    assert.equal(v.code, 0, v.stderr);
    // user/ swapped whole as well (--with-user), and back again.
    const r = await s.json("rollback", id, "--with-user");
    assert.equal(r.withUser, true);
    assert.deepEqual(await siteTree(s.root), before);
    assert.deepEqual(await treeState(path.join(s.root, "user"), { exclude: gpmOwn }), userBefore);
  });
});
