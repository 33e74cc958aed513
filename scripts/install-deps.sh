#!/usr/bin/env bash
# Installs what dmkit's tests need: Go (checked only), MariaDB server and
# client, percona-toolkit (pt-online-schema-change, for the online DDL tests),
# Chromium (the console test) and etcd-server (/usr/bin/etcd, the external etcd of
# the multi-master test), installed with apt-get on Debian/Ubuntu if missing.
# Idempotent: it
# does nothing when everything is present. It never starts the system MariaDB
# service; tests start their own throwaway servers.
set -euo pipefail

# have NAME: is NAME on PATH or in /usr/sbin, /usr/bin?
have() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

if ! have go; then
	echo "install-deps: Go not found; install Go (see go.mod for the version) from https://go.dev/dl/ and put it on PATH" >&2
	exit 1
fi
echo "install-deps: $(go version)"

packages=()
if ! have mariadbd || ! have mariadb-install-db; then
	packages+=(mariadb-server)
fi
if ! have mariadb; then
	packages+=(mariadb-client)
fi
# The web console's test drives headless Chromium.
if ! have chromium; then
	packages+=(chromium)
fi
if ! have pt-online-schema-change; then
	packages+=(percona-toolkit)
fi
# The multi-master test runs once against Debian's etcd as an external etcd.
if ! [ -x /usr/bin/etcd ]; then
	packages+=(etcd-server)
fi
if [ ${#packages[@]} -eq 0 ]; then
	echo "install-deps: MariaDB, percona-toolkit, Chromium and etcd present ($(/usr/sbin/mariadbd --version 2>/dev/null || mariadbd --version))"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: need ${packages[*]} but apt-get is not available; install MariaDB server and client (mariadbd, mariadb-install-db, mariadb), percona-toolkit (pt-online-schema-change) and etcd 3.4+ (as /usr/bin/etcd) with your package manager" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: need root or sudo to install ${packages[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi

# Keep package scripts from starting the system service: policy-rc.d
# exit code 101 means "action forbidden". Only add one if none exists.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod +x "$policy"
	trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

echo "install-deps: installing ${packages[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
