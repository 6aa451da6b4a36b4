#!/usr/bin/env bash
# Generates the certificates of the SASL_SSL listener that tests/kafka/broker.sh
# opens with KAFKA_SECURE=1.
#
# Usage: tests/kafka/tls.sh DIR CLIENT_CN STORE_PASSWORD
#
# Writes a throwaway certificate authority, a broker certificate and a client
# certificate that the authority signs, plus the PKCS12 stores that the broker
# reads. Each run makes new keys: nothing here is a secret worth keeping, and
# no file is meant to outlive the broker's data directory. DIR is created, and
# files in it are overwritten.
#
# Files in DIR:
#   ca.pem, ca.key          the authority (CN "kafka-deduplicator test CA")
#   broker.pem, broker.key  the broker certificate, CN localhost, SANs
#                           DNS:localhost and IP:127.0.0.1, serverAuth
#   client.pem, client.key  the client certificate, CN = the SASL user, clientAuth
#   broker.p12              PKCS12 keystore: broker key, broker certificate, CA
#   truststore.p12          PKCS12 truststore with the CA as a trusted entry
# Keys are unencrypted PKCS#8 PEM files with mode 0600. Both stores use
# STORE_PASSWORD. Needs openssl (tested with 3.0) and the JDK's keytool.
# Prints the openssl and keytool output and exits non-zero at the first
# command that fails.

set -euo pipefail

# TLS_VALIDITY_DAYS is how long the certificates are valid. A new set is made
# at every broker start, so a short validity is enough.
TLS_VALIDITY_DAYS=30

# tls_write_openssl_config FILE writes the extension sections that main uses.
# A private configuration keeps the result independent of the system's
# openssl.cnf, whose [req] defaults differ between distributions.
tls_write_openssl_config() {
	cat >"$1" <<-'EOF'
		# Written by tests/kafka/tls.sh.
		[req]
		distinguished_name = req_distinguished_name
		prompt = no
		[req_distinguished_name]
		CN = placeholder

		[ca_ext]
		basicConstraints = critical, CA:TRUE, pathlen:0
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash

		[broker_ext]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth, clientAuth
		subjectAltName = DNS:localhost, IP:127.0.0.1
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid

		[client_ext]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = clientAuth
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
	EOF
}

# tls_random_serial prints a random 128-bit certificate serial number in hex.
# openssl encodes it as a positive integer of at most 17 octets, within the 20
# that RFC 5280 allows.
tls_random_serial() {
	printf '0x%s\n' "$(openssl rand -hex 16)"
}

# tls_issue DIR NAME CN EXTENSION_SECTION makes DIR/NAME.key and DIR/NAME.pem,
# a certificate that DIR/ca.pem signs.
tls_issue() {
	local dir=$1 name=$2 common_name=$3 section=$4
	openssl req -new -config "$dir/openssl.cnf" \
		-newkey rsa:2048 -nodes -keyout "$dir/$name.key" \
		-subj "/CN=$common_name" -out "$dir/$name.csr"
	openssl x509 -req -in "$dir/$name.csr" \
		-CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial "$(tls_random_serial)" \
		-days "$TLS_VALIDITY_DAYS" -sha256 \
		-extfile "$dir/openssl.cnf" -extensions "$section" -out "$dir/$name.pem"
	rm -f "$dir/$name.csr"
}

main() {
	if (($# != 3)); then
		printf 'usage: %s DIR CLIENT_CN STORE_PASSWORD\n' "$0" >&2
		exit 2
	fi
	local dir=$1 client_common_name=$2 store_password=$3
	umask 077
	mkdir -p "$dir"
	# keytool fails to import a certificate under an alias that the store already has.
	rm -f "$dir/truststore.p12"
	tls_write_openssl_config "$dir/openssl.cnf"

	# Step 1: the self-signed authority.
	openssl req -x509 -config "$dir/openssl.cnf" -extensions ca_ext \
		-newkey rsa:2048 -nodes -keyout "$dir/ca.key" \
		-subj "/CN=kafka-deduplicator test CA" -set_serial "$(tls_random_serial)" \
		-days "$TLS_VALIDITY_DAYS" -sha256 -out "$dir/ca.pem"

	# Step 2: the broker and client certificates.
	tls_issue "$dir" broker localhost broker_ext
	tls_issue "$dir" client "$client_common_name" client_ext

	# Step 3: the broker's stores. The keystore carries the CA certificate as
	# the rest of the chain. openssl 3.0, as in Debian 12, has no option that
	# marks a certificate as trusted for Java, so keytool writes the truststore.
	openssl pkcs12 -export -name broker \
		-in "$dir/broker.pem" -inkey "$dir/broker.key" -certfile "$dir/ca.pem" \
		-passout "pass:$store_password" -out "$dir/broker.p12"
	keytool -importcert -noprompt -alias kafka-deduplicator-test-ca \
		-file "$dir/ca.pem" -keystore "$dir/truststore.p12" \
		-storetype PKCS12 -storepass "$store_password"

	# Step 4: check that the chain verifies before the broker depends on it.
	openssl verify -CAfile "$dir/ca.pem" "$dir/broker.pem" "$dir/client.pem"
}

main "$@"
