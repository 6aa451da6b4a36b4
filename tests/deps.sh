#!/usr/bin/env bash
# Installs and checks what building and testing kafka-deduplicator needs:
#   - Debian's librocksdb-dev (headers and library for the grocksdb cgo
#     bindings) and openssl (test certificates), installed with apt-get when
#     dpkg reports them missing;
#   - java 17 or newer and mvn, which tests/kafka/broker.sh uses to fetch and
#     run the Kafka broker;
#   - go.
# Run it as root (apt-get needs it) before building, for example from CI.
# It exits non-zero with a message naming what is missing.
#
# Usage: tests/deps.sh

set -euo pipefail

log() { printf 'deps.sh: %s\n' "$*" >&2; }

die() {
	printf 'deps.sh: error: %s\n' "$*" >&2
	exit 1
}

# install_debian_packages installs the named Debian packages that dpkg does not
# report as installed, running apt-get update once first.
install_debian_packages() {
	local package missing=()
	for package in "$@"; do
		if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
			log "$package: installed"
		else
			missing+=("$package")
		fi
	done
	((${#missing[@]} > 0)) || return 0

	command -v apt-get >/dev/null || die "cannot install ${missing[*]}: apt-get not found; install them with this system's package manager"
	((EUID == 0)) || die "cannot install ${missing[*]}: apt-get needs root; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
	log "installing ${missing[*]} with apt-get"
	apt-get update ||
		die "apt-get update failed (output above); check the network and /etc/apt/sources.list, then run tests/deps.sh again"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
		die "apt-get install -y ${missing[*]} failed (output above)"
}

# check_java fails unless java on PATH is version 17 or newer.
check_java() {
	command -v java >/dev/null || die "java not found on PATH: install a JDK 17 or newer, for example: apt-get install -y openjdk-17-jdk-headless"

	# The first line of 'java -version' is like: openjdk version "17.0.15" 2025-04-15,
	# or "1.8.0_412" for Java 8 and older.
	local version_line version major
	version_line=$(java -version 2>&1 | head -n 1)
	version=$(sed -n 's/.*version "\([^"]*\)".*/\1/p' <<<"$version_line")
	[[ -n $version ]] || die "cannot read the Java version from 'java -version' output: $version_line"
	major=${version%%[.+-]*}
	if [[ $major == 1 ]]; then
		major=$(cut -d. -f2 <<<"$version")
	fi
	[[ $major =~ ^[0-9]+$ ]] || die "cannot read the Java major version from '$version'"
	((major >= 17)) || die "java on PATH is version $version, but Kafka 4.x needs 17 or newer: install a newer JDK or put it first on PATH"
	log "java: $version"
}

main() {
	(($# == 0)) || die "unexpected arguments '$*': tests/deps.sh takes none"

	command -v dpkg-query >/dev/null ||
		die "dpkg-query not found: this script installs Debian packages; on another system install the RocksDB development files (headers and librocksdb) by hand"
	# openssl makes the certificates of the broker's SASL_SSL listener.
	install_debian_packages librocksdb-dev openssl

	check_java
	command -v mvn >/dev/null || die "mvn not found on PATH: install Maven, for example: apt-get install -y maven"
	log "mvn: $(mvn -v 2>/dev/null | head -n 1 | sed 's/\x1b\[[0-9;]*m//g')"
	command -v go >/dev/null || die "go not found on PATH: install the Go toolchain that go.mod names"
	log "go: $(go version)"
}

main "$@"
