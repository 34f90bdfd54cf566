#!/bin/sh
# install.sh — install or upgrade gpm itself (docs/INSTALL.md).
#
#   install.sh [--prefix DIR] [--from TARBALL|DIR] [--force]
#
# Installs a packed release of gpm (`npm pack`: a .tgz holding dist/bundle and its
# production dependencies, bundled) as PREFIX/lib/gpm with the launcher
# PREFIX/bin/gpm. The new copy is unpacked and run (`gpm version`) beside the
# old one before anything is replaced, and the swap is two renames, so a
# broken tarball or a failed check leaves the old gpm working.
#
# Exit codes: 0 installed, or already installed (nothing to do) · 1 error,
# the old gpm left as it was · 2 usage · 3 refused: older than the installed
# gpm (pass --force).
set -eu

usage() {
  echo "usage: install.sh [--prefix DIR] [--from TARBALL|DIR] [--force]" >&2
  echo "  --prefix DIR   where gpm goes: DIR/lib/gpm and the launcher DIR/bin/gpm (default: /usr/local as root, else \$HOME/.local)" >&2
  echo "  --from X       an npm pack tarball of gpm, or a folder holding a built gpm (default: the folder of this script)" >&2
  echo "  --force        install even when X is older than (or the same as) the installed gpm" >&2
  exit 2
}

say() { echo "install.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

prefix=""
from=""
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --from) [ $# -ge 2 ] || usage; from=$2; shift 2 ;;
    --from=*) from=${1#--from=}; shift ;;
    --force) force=1; shift ;;
    -h|--help) usage ;;
    *) say "unknown argument: $1"; usage ;;
  esac
done
if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
[ -n "$from" ] || from=$(cd "$(dirname "$0")" && pwd)
[ -e "$from" ] || die "--from $from does not exist — give an npm pack tarball (gpm-X.Y.Z.tgz) or a folder holding gpm"

node_bin=$(command -v node || true)
[ -n "$node_bin" ] || die "node is not on PATH — install Node.js 20.19 or newer first"
"$node_bin" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "node $("$node_bin" --version) is too old — gpm needs Node.js 20.19 or newer"

mkdir -p "$prefix/bin" "$prefix/lib" || die "cannot create $prefix/bin and $prefix/lib — check --prefix and permissions"
prefix=$(cd "$prefix" && pwd)
live="$prefix/lib/gpm"
launcher="$prefix/bin/gpm"

# Temp files: one folder in the system temp dir, and the staged copy beside the
# live one (same file system, so the swap is a rename). Both go on every exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpm-install.XXXXXX")
stage="$prefix/lib/.gpm.new-$$"
backup=""
cleanup() {
  # Stopped between the two renames of the swap: the old copy goes back.
  if [ -n "$backup" ] && [ -d "$backup" ] && [ ! -e "$live" ]; then mv "$backup" "$live"; fi
  rm -rf "$tmp" "$stage" "$launcher.new-$$"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The version a gpm folder reports by running it (its `gpm version`), or "".
version_of() {
  (cd "$tmp" && env -u GPM_ROOT "$node_bin" "$1/bin/gpm" version --json 2>/dev/null) |
    "$node_bin" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const v=JSON.parse(s).gpm;if(typeof v==="string")console.log(v)}catch{}})' || true
}

# 1. Unpack. A folder is packed first (npm pack, no scripts) so a folder and a
#    tarball install exactly the same file list (package.json "files").
if [ -d "$from" ]; then
  [ -f "$from/dist/bundle/gpm/main.js" ] || die "$from holds no built gpm (dist/bundle/gpm/main.js) — run npm ci there first, or give a tarball"
  (cd "$from" && npm pack --ignore-scripts --silent --pack-destination "$tmp" >/dev/null 2>"$tmp/pack.log") ||
    die "npm pack of $from failed: $(tail -n 1 "$tmp/pack.log")"
  set -- "$tmp"/*.tgz
  tarball=$1
else
  tarball=$from
fi
# Unpacked straight beside the live copy (the same file system, so the swap
# is a rename, and no second copy of a few thousand files).
rm -rf "$stage"
mkdir "$stage" || die "cannot write in $prefix/lib — check permissions"
tar -xzf "$tarball" -C "$stage" --strip-components=1 2>"$tmp/tar.log" || die "$tarball is not a readable gpm tarball ($(tail -n 1 "$tmp/tar.log")) — nothing was changed"
[ -f "$stage/package.json" ] && [ -f "$stage/bin/gpm" ] && [ -f "$stage/dist/bundle/gpm/main.js" ] ||
  die "$tarball is not a packed gpm (package/bin/gpm or package/dist/bundle is missing) — nothing was changed"

# 2. Run the staged copy: a release that does not run never replaces one that does.
new=$(version_of "$stage")
[ -n "$new" ] || die "the gpm in $tarball does not run (gpm version failed) — nothing was changed"

# 3. Compare with what is installed (by running it, as SPEC section 9 says).
old=""
[ -d "$live" ] && old=$(version_of "$live")
if [ -n "$old" ]; then
  # semver order, with the semver copy the new release bundles.
  cmp=$("$node_bin" -e 'const s=require(process.argv[1]);console.log(s.compare(process.argv[2],process.argv[3]))' "$stage/node_modules/semver" "$new" "$old") ||
    die "cannot compare versions $new and $old"
  if [ "$cmp" = 0 ] && [ "$force" = 0 ]; then
    say "gpm $new is already installed in $prefix; nothing to do"
    exit 0
  fi
  if [ "$cmp" -lt 0 ]; then
    if [ "$force" = 0 ]; then
      say "refused: $new is older than the installed gpm $old — pass --force to downgrade"
      exit 3
    fi
    say "warning: --force: downgrading gpm $old → $new"
  fi
elif [ -d "$live" ]; then
  say "warning: the gpm in $live does not run; replacing it (it is kept as a backup)"
fi

# 4. Swap: the old copy becomes gpm.backup-<timestamp>, the staged one goes live.
if [ -d "$live" ]; then
  backup="$prefix/lib/gpm.backup-$(date -u +%Y%m%dT%H%M%SZ)"
  n=2
  while [ -e "$backup" ]; do backup="${backup%-[0-9]}-$n"; n=$((n + 1)); done
  mv "$live" "$backup" || die "cannot move $live aside — nothing was changed"
fi
restore() {
  rm -rf "$live"
  if [ -n "$backup" ]; then mv "$backup" "$live"; fi
}
if ! mv "$stage" "$live"; then restore; die "cannot move the new gpm into $live — the old one is back"; fi

cat >"$launcher.new-$$" <<EOF
#!/bin/sh
# gpm launcher, written by install.sh: the node found at install time, else the one on PATH.
node="$node_bin"
[ -x "\$node" ] || node=node
exec "\$node" "$live/bin/gpm" "\$@"
EOF
chmod 755 "$launcher.new-$$"
old_launcher=""
if [ -f "$launcher" ]; then old_launcher="$tmp/launcher.old"; cp -p "$launcher" "$old_launcher"; fi
mv "$launcher.new-$$" "$launcher" || { restore; die "cannot write $launcher — the old gpm is back"; }

# 5. The installed gpm must answer through its launcher, with the new version.
got=$(cd "$tmp" && env -u GPM_ROOT "$launcher" version --json 2>/dev/null |
  "$node_bin" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).gpm)}catch{}})' || true)
if [ "$got" != "$new" ]; then
  restore
  if [ -n "$old_launcher" ]; then cp -p "$old_launcher" "$launcher"; else rm -f "$launcher"; fi
  die "the installed gpm does not answer \`gpm version\` with $new (got '${got}') — the old one is back"
fi
if [ -n "$old" ]; then say "upgraded gpm $old → $new in $prefix (previous copy: $backup)"
else say "installed gpm $new in $prefix (run it as $launcher)"; fi

# 6. The installation this machine manages, brought to the new structure.
if [ -n "${GPM_ROOT:-}" ]; then
  say "gpm migrate-installation --yes for GPM_ROOT=$GPM_ROOT"
  "$launcher" migrate-installation --yes --root "$GPM_ROOT" || {
    rc=$?
    say "error: gpm migrate-installation failed (exit $rc) for $GPM_ROOT; gpm $new stays installed — run it again once the cause is fixed"
    exit "$rc"
  }
fi
exit 0
