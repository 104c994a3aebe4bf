#!/usr/bin/env bash
# Builds kube-apiserver 1.20.2 from Debian's `kubernetes` source package (no prebuilt binary
# is packaged; see docs/kubernetes.md#the-test-api-server) and installs etcd-server and kubectl
# beside it. The binary is cached: a second run only checks it. Prints the binary's path on its
# last line.
set -euo pipefail
cache="${MASKSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/masksweep}"
binary="$cache/kube-apiserver-1.20.2/kube-apiserver"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# A build without the fixes below says v0.0.0-master+...: build again.
built() { [ -x "$binary" ] && [ "$("$binary" --version)" = "Kubernetes v1.20.2" ]; }
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v kubectl >/dev/null || need+=(kubectl)
if ! built; then
  command -v go >/dev/null || need+=(golang-go)
  command -v rsync >/dev/null || need+=(rsync)
  [ -d "$reflect2" ] || need+=(golang-github-modern-go-reflect2-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -q
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${need[@]}"
fi
if built; then
  echo "$binary"
  exit 0
fi

sources=/etc/apt/sources.list.d/debian-src.sources
if [ ! -f "$sources" ]; then
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    as_root tee "$sources" >/dev/null
  as_root apt-get update -q
fi
work="$cache/build"
mkdir -p "$work" "$(dirname "$binary")"
cd "$work"
ls kubernetes_*.orig.tar.gz >/dev/null 2>&1 || apt-get source --download-only kubernetes
[ -d kubernetes-1.20.2 ] || tar xzf kubernetes_1.20.5+really1.20.2.orig.tar.gz
# The tree builds in GOPATH mode only.
mkdir -p gopath/src/k8s.io
ln -sfn "$work/kubernetes-1.20.2" gopath/src/k8s.io/kubernetes
cd gopath/src/k8s.io/kubernetes
# The tree vendors modern-go/reflect2 1.0.1, which panics under Go >= 1.18 (modern-go/reflect2#26)
# as soon as the API server decodes a CustomResourceDefinition; 1.0.2 (Debian's) is the fix.
rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
cp "$reflect2"/*.go "$reflect2"/*.s vendor/github.com/modern-go/reflect2/
export GO111MODULE=off GOPATH="$work/gopath" GOFLAGS=
make generated_files
# The version a plain `go build` leaves is v0.0.0-master: clients that check it need the real one.
ldflags=
for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v1.20.2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
done
go build -ldflags "$ldflags" -o "$binary.partial" ./cmd/kube-apiserver
mv "$binary.partial" "$binary"
echo "$binary"
