#!/usr/bin/env bash
# install.sh builds the Consul agent pinned in this tools module (go.mod)
# once and caches it at ${MESHLB_CACHE:-$HOME/.cache/meshlb}/consul-<version>.
# A cached binary is reused as is. Prints the binary's path on stdout; build
# output goes to stderr. The first build takes several minutes on 2 cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

version="$(go list -m -f '{{.Version}}' github.com/hashicorp/consul)"
cache="${MESHLB_CACHE:-${HOME}/.cache/meshlb}"
bin="${cache}/consul-${version}"

if [ ! -x "${bin}" ]; then
	mkdir -p "${cache}"
	tmp="$(mktemp "${cache}/.consul-${version}.XXXXXX")"
	trap 'rm -f "${tmp}"' EXIT
	echo "building consul ${version} into ${bin} (takes minutes)" >&2
	GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0 \
		go build -trimpath -ldflags='-s -w' -o "${tmp}" github.com/hashicorp/consul
	chmod 0755 "${tmp}"
	mv -f "${tmp}" "${bin}"
	trap - EXIT
fi
echo "${bin}"
