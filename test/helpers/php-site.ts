/**
 * A small PHP site of our own that boots like Grav (index.php requires
 * vendor/autoload.php, says "Please run: <i>bin/grav install</i>" without it;
 * system/router.php for `php -S`), as a release tree for the fixtures.
 *
 * With `files`, system/ and vendor/ hold that many files each, and index.php
 * includes `includes` of them alternately (system, vendor, system, …), each
 * reporting its version: the page says `versions=<v>` when every file it
 * included was of one release, and lists them all otherwise — a torn response.
 */
import { releaseTree, type TreeSpec } from "./fixtures.js";

export function phpSiteTree(version: string, o: { files?: number; includes?: number; extra?: TreeSpec; drop?: string[] } = {}): TreeSpec {
  const files = o.files ?? 4;
  const includes = Math.min(o.includes ?? 4, files);
  const tree: TreeSpec = releaseTree(version, { drop: ["index.php", "vendor/autoload.php", ...(o.drop ?? [])] });
  for (let i = 0; i < files; i++) {
    tree[`system/src/part${i}.php`] = `<?php\n$GLOBALS['gpm_seen'][] = 'system:${version}';\n`;
    tree[`vendor/lib/part${i}.php`] = `<?php\n$GLOBALS['gpm_seen'][] = 'vendor:${version}';\n`;
  }
  tree["vendor/autoload.php"] = `<?php\n$GLOBALS['gpm_seen'][] = 'vendor:${version}';\nreturn true;\n`;
  tree["system/router.php"] = `<?php
if (PHP_SAPI !== 'cli-server') { die('This script cannot be run from browser. Run it from a CLI.'); }
$path = $_SERVER['SCRIPT_NAME'];
if ($path !== '/index.php' && is_file($_SERVER['DOCUMENT_ROOT'] . $path)) { return false; }
$_SERVER['PHP_CLI_ROUTER'] = true;
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
`;
  tree["index.php"] = `<?php
// Boots like Grav ${version}: vendor first, then the system.
$autoload = __DIR__ . '/vendor/autoload.php';
if (!is_file($autoload)) {
    die('Please run: <i>bin/grav install</i>');
}
require $autoload;
require __DIR__ . '/system/defines.php';
for ($i = 0; $i < ${includes}; $i++) {
    require __DIR__ . '/system/src/part' . $i . '.php';
    require __DIR__ . '/vendor/lib/part' . $i . '.php';
}
if (isset($_GET['fatal'])) { gpm_undefined_function_on_purpose(); }
$v = array_values(array_unique(array_map(function ($s) { return substr($s, strpos($s, ':') + 1); }, $GLOBALS['gpm_seen'])));
header('Content-Type: text/plain');
echo count($v) === 1 ? 'versions=' . $v[0] : 'torn ' . implode(',', $GLOBALS['gpm_seen']), "\\n";
`;
  Object.assign(tree, o.extra ?? {});
  for (const d of o.drop ?? []) delete tree[d];
  return tree;
}
