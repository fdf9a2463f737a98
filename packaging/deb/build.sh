#!/bin/bash
# Builds gproc_<version>_amd64.deb from a `make build` tree (called by `make deb`):
#   packaging/deb/build.sh OUTDIR
# Layout (spec section 8): /usr/bin/gproc -> /usr/lib/gproc/dist/gproc.js; the bundles and
# native helpers in /usr/lib/gproc/dist/ (the code finds them next to gproc.js, and
# package.json one level up for its version); fuse-native and its runtime dependencies in
# /usr/lib/gproc/node_modules/ (the bundles leave it out: it loads a native addon); the
# units in /lib/systemd/system; /etc/default/gproc; man pages; bash completion.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: build.sh OUTDIR}
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
stage=build/deb/root
rm -rf build/deb && mkdir -p "$stage/DEBIAN" "$out"
# Reproducible dates: the last commit's, else now.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

lib=$stage/usr/lib/gproc
install -d -m 0755 "$lib/dist" "$stage/usr/bin"
node -e 'const p=require("./package.json");process.stdout.write(JSON.stringify({name:p.name,version:p.version,private:true,license:p.license},null,2)+"\n")' >"$lib/package.json"
for f in gproc.js read-worker.js heartbeat-worker.js; do install -m 0644 "dist/$f" "$lib/dist/$f"; done
chmod 0755 "$lib/dist/gproc.js"
install -m 0644 dist/gproc-kill.so dist/peercred.node "$lib/dist/"
install -m 0755 dist/gproc-shim "$lib/dist/"
install -m 0755 dist/gproc-exec "$lib/dist/"
strip --strip-unneeded -R .comment "$lib/dist/gproc-kill.so" "$lib/dist/peercred.node"
strip -R .comment "$lib/dist/gproc-shim" "$lib/dist/gproc-exec"
# gproc-exec gives any user's `gproc exec` the view as /proc (src/native/gproc-exec.c).
chmod 4755 "$lib/dist/gproc-exec"
ln -s ../lib/gproc/dist/gproc.js "$stage/usr/bin/gproc"

# fuse-native, with only what Linux on this architecture loads: node-gyp-build picks
# prebuilds/linux-x64/node.napi.node (linked against Debian's libfuse.so.2);
# fuse-shared-library-linux's own libfuse copies and helper scripts are never used.
nm=$lib/node_modules
copy() { # copy MODULE FILE... (paths relative to node_modules/MODULE)
  local m=$1
  shift
  for f in "$@"; do install -D -m 0644 "node_modules/$m/$f" "$nm/$m/$f"; done
}
copy fuse-native package.json index.js
install -D -m 0644 node_modules/fuse-native/prebuilds/linux-x64/node.napi.node \
  "$nm/fuse-native/prebuilds/linux-x64/node.napi.node"
strip --strip-unneeded -R .comment "$nm/fuse-native/prebuilds/linux-x64/node.napi.node"
copy fuse-shared-library package.json index.js
copy fuse-shared-library-linux package.json index.js
copy nanoresource package.json index.js emitter.js
copy inherits package.json inherits.js inherits_browser.js
copy node-gyp-build package.json index.js node-gyp-build.js

# etcd3 (membership through etcd) and what it loads, outside the bundles too: it reads its
# .proto files from its own directory at run time. Only the run-time files of each package
# (.js, .json, .proto); type declarations, sources maps and docs stay out, and so do the
# type-only packages some of them name as dependencies.
node - "$nm" <<'CLOSURE'
const fs = require('fs'), path = require('path');
const [dest] = process.argv.slice(2);
const seen = new Set();
const visit = (name, from) => {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const p = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(p, 'package.json'))) {
      if (seen.has(p) || /^@types\/|^undici-types$/.test(name)) return;
      seen.add(p);
      const deps = require(path.resolve(p, 'package.json')).dependencies ?? {};
      for (const d of Object.keys(deps)) visit(d, p);
      return;
    }
    if (path.dirname(dir) === dir) throw new Error(`etcd3 needs ${name}, which is not installed`);
  }
};
visit('etcd3', process.cwd());
const keep = (f) => /\.(js|json|proto)$/.test(f) && !/\.d\.ts$|\.map$/.test(f);
const copy = (from, to) => {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name), b = path.join(to, e.name);
    if (e.isDirectory() && !['node_modules', 'test', 'bin'].includes(e.name)) copy(a, b);
    else if (e.isFile() && keep(e.name)) {
      fs.mkdirSync(to, { recursive: true, mode: 0o755 });
      fs.copyFileSync(a, b);
      fs.chmodSync(b, 0o644);
    }
  }
};
for (const p of seen) copy(p, path.join(dest, path.relative(path.join(process.cwd(), 'node_modules'), p)));
CLOSURE

# Units, settings, documentation.
install -D -m 0644 packaging/deb/gproc-agent.service "$stage/lib/systemd/system/gproc-agent.service"
install -D -m 0644 packaging/deb/gproc-mount.service "$stage/lib/systemd/system/gproc-mount.service"
install -D -m 0644 packaging/deb/default "$stage/etc/default/gproc"
node build/docs.js build/deb/doc "$date" >/dev/null
for page in gproc.1 gproc-cluster.json.5 gproc-proc.5; do
  sec=${page##*.}
  install -D -m 0644 "build/deb/doc/$page" "$stage/usr/share/man/man$sec/$page"
  gzip -9n "$stage/usr/share/man/man$sec/$page"
done
install -D -m 0644 build/deb/doc/gproc.bash-completion "$stage/usr/share/bash-completion/completions/gproc"
doc=$stage/usr/share/doc/gproc
install -D -m 0644 packaging/deb/copyright "$doc/copyright"
install -D -m 0644 packaging/deb/cluster.json "$doc/examples/cluster.json"
install -m 0644 README.md "$doc/README.md" && gzip -9n "$doc/README.md"
cat >"$doc/changelog" <<CHANGELOG
gproc ($version) unstable; urgency=medium

  * Built from the gproc source tree (make deb).

 -- gproc developers <gproc@lists.example.org>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
CHANGELOG
gzip -9n "$doc/changelog"
install -D -m 0644 packaging/deb/lintian-overrides "$stage/usr/share/lintian/overrides/gproc"

# Control files.
for s in postinst prerm postrm; do install -m 0755 "packaging/deb/$s" "$stage/DEBIAN/$s"; done
echo /etc/default/gproc >"$stage/DEBIAN/conffiles"
size=$(du -k -s --exclude=DEBIAN "$stage" | cut -f1)
# libc6: the native helpers' symbols (dpkg-shlibdeps on a bookworm build machine).
libc=$(dpkg-query -W -f='${Version}' libc6 | sed 's/-.*//')
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@LIBC@/$libc/" \
  packaging/deb/control.in >"$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) \
  >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/control"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/gproc_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
