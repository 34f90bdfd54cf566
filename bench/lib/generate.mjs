/**
 * Synthetic Grav-like trees for the benchmark, written straight to disk (never
 * held in memory whole): a release package of a given size, the site owner's
 * user/ and a cache. Small files are text drawn from a word corpus (they
 * deflate about 3:1, like PHP sources); large files are random bytes (they do
 * not deflate at all, like images, fonts and bundled binaries).
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { ZipArchive } from "archiver";

/** Deterministic PRNG (mulberry32): the same tree for the same seed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "public private protected function return static self array string int bool null true false new class interface trait " +
  "namespace use extends implements const if else elseif foreach while for switch case break continue throw try catch finally " +
  "Grav Common Page Pages Config Yaml Twig Cache Plugin Theme Assets Uri Language Session User Flex Object Collection Index " +
  "$this $grav $page $config $value $key $item $items $result $path $name $options $data $file $route $header $content " +
  "getValue setValue getName findAll process render init boot load save delete exists filter map merge parse dump event " +
  "-> => :: ; { } ( ) [ ] = == === != && || ! ? : , . * / + - // /** * @param @return @var @throws @internal"
).split(" ");

/** ~2 MiB of PHP-looking text; small files are slices of it (plus a unique header). */
function corpus(seed) {
  const rnd = prng(seed);
  const parts = [];
  let n = 0;
  while (n < 2 << 20) {
    const w = WORDS[Math.floor(rnd() * WORDS.length)];
    const sep = rnd() < 0.1 ? "\n    " : " ";
    parts.push(w, sep);
    n += w.length + sep.length;
  }
  return Buffer.from(parts.join(""));
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Write `files` ([{rel, size, kind: "text"|"random", mode?, header?}]) under
 * `dir`, folders first. Text files get a header naming the file and `stamp`
 * (so two versions differ in every file), then corpus text up to `size`.
 */
export async function writeFiles(dir, files, { stamp, seed }) {
  const text = corpus(seed);
  const rnd = prng(seed ^ 0x5eed);
  const dirs = new Set(files.map((f) => path.dirname(path.join(dir, f.rel))));
  for (const d of [...dirs].sort((a, b) => a.length - b.length)) await fsp.mkdir(d, { recursive: true });
  const offsets = files.map(() => Math.floor(rnd() * (text.length - 64 * 1024)));
  await pool(
    files.map((f, i) => ({ f, off: offsets[i] })),
    32,
    async ({ f, off }) => {
      const p = path.join(dir, f.rel);
      if (f.content !== undefined) await fsp.writeFile(p, f.content);
      else if (f.kind === "random") await writeRandom(p, f.size);
      else {
        const head = Buffer.from(`<?php\n// ${f.rel} — ${stamp}\n`);
        const body = text.subarray(off, off + Math.max(0, f.size - head.length));
        await fsp.writeFile(p, Buffer.concat([head, body]));
      }
      if (f.mode !== undefined) await fsp.chmod(p, f.mode);
    },
  );
}

async function writeRandom(file, size) {
  const fh = await fsp.open(file, "w");
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(1 << 20, size - done);
      await fh.write(crypto.randomBytes(n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The file list of a Grav-like release package: `smallFiles` text files spread
 * over system/src and vendor/ in folders of ~25, `largeFiles` random files of
 * `largeBytes`, and the package's own top-level entries (some preserved ones
 * too, as Grav ships user/config/system.yaml, robots.txt, .htaccess).
 */
export function releaseFiles(version, { smallFiles, largeFiles, largeBytes, seed }) {
  const rnd = prng(seed);
  const files = [
    { rel: "index.php", content: `<?php // Grav ${version}\nrequire 'system/defines.php';\n` },
    { rel: "composer.json", content: JSON.stringify({ name: "getgrav/grav", version, require: { php: ">=8.1" } }, null, 2) },
    { rel: "CHANGELOG.md", content: `# v${version}\n* benchmark release ${version}\n` },
    { rel: "system/defines.php", content: `<?php\ndefine('GRAV_VERSION', '${version}');\n` },
    { rel: "bin/grav", content: `#!/bin/sh\necho grav ${version}\n`, mode: 0o755 },
    { rel: "bin/gpm", content: `#!/bin/sh\necho gpm ${version}\n`, mode: 0o755 },
    { rel: "webserver-configs/nginx.conf", content: "# nginx\n" },
    { rel: "user/config/system.yaml", content: "# default user config shipped in the package\n" },
    { rel: "robots.txt", content: "User-agent: *\n" },
    { rel: ".htaccess", content: "# default htaccess\n" },
    { rel: "cache/.gitkeep", content: "" },
    { rel: "logs/.gitkeep", content: "" },
    { rel: "images/.gitkeep", content: "" },
  ];
  const fixed = files.length;
  const small = smallFiles - fixed;
  for (let i = 0; i < small; i++) {
    // 40% system/src, 60% vendor/, in folders of 25 files, two levels deep.
    const folder = Math.floor(i / 25);
    const rel =
      i % 5 < 2
        ? `system/src/Grav/Module${Math.floor(folder / 20)}/Part${folder % 20}/Class${i}.php`
        : `vendor/vendor${Math.floor(folder / 30)}/package${folder % 30}/src/File${i}.php`;
    files.push({ rel, size: 300 + Math.floor(rnd() * 9500), kind: "text" });
  }
  for (let i = 0; i < largeFiles; i++) files.push({ rel: `system/assets/bundle-${i}.bin`, size: largeBytes, kind: "random" });
  return files;
}

/** user/ of a working site: pages with images, plugins, a theme, config, accounts. */
export function userFiles({ smallFiles, images, imageBytes, seed }) {
  const rnd = prng(seed);
  const files = [];
  const pages = smallFiles - 200;
  for (let i = 0; i < pages; i++) {
    const section = Math.floor(i / 100);
    files.push({ rel: `user/pages/${String(section + 1).padStart(2, "0")}.section/${String(i).padStart(4, "0")}.page/item.md`, size: 500 + Math.floor(rnd() * 7000), kind: "text" });
  }
  for (let p = 0; p < 20; p++) for (let i = 0; i < 8; i++) files.push({ rel: `user/plugins/plugin${p}/src/File${i}.php`, size: 800 + Math.floor(rnd() * 4000), kind: "text" });
  for (let i = 0; i < 30; i++) files.push({ rel: `user/themes/quark/templates/t${i}.html.twig`, size: 400 + Math.floor(rnd() * 2000), kind: "text" });
  for (let i = 0; i < 10; i++) files.push({ rel: `user/config/c${i}.yaml`, content: `key${i}: value\n` });
  for (let i = 0; i < images; i++) {
    const section = i % Math.max(1, Math.ceil(pages / 100));
    files.push({ rel: `user/pages/${String(section + 1).padStart(2, "0")}.section/img${i}.jpg`, size: imageBytes, kind: "random" });
  }
  files.push({ rel: "user/accounts/admin.yaml", content: "password: secret\n", mode: 0o600 });
  return files;
}

/** Compiled cache (emptied at promote): a handful of top-level folders, many files. */
export function cacheFiles(count) {
  const groups = ["twig", "compiled", "doctrine", "images", "problem-check"];
  return Array.from({ length: count }, (_, i) => ({ rel: `cache/${groups[i % groups.length]}/${(i % 64).toString(16).padStart(2, "0")}/c${i}.php`, size: 200 + (i % 40) * 50, kind: "text" }));
}

/**
 * Zip `srcDir` (its contents at the zip's top level) with archiver, streaming
 * each file from disk. Returns the archive's sha256 and size.
 */
export async function zipDir(srcDir, file) {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const out = fs.createWriteStream(file);
  const archive = new ZipArchive({ zlib: { level: 6 } });
  const done = new Promise((resolve, reject) => {
    out.on("close", resolve);
    out.on("error", reject);
    archive.on("error", reject);
  });
  archive.pipe(out);
  archive.directory(srcDir, false);
  await archive.finalize();
  await done;
  return { ...(await hashFile(file)) };
}

export async function hashFile(file) {
  const h = crypto.createHash("sha256");
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest("hex"), size };
}
