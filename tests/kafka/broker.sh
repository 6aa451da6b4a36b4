#!/usr/bin/env bash
# Fetches and runs a single-node Apache Kafka broker (KRaft, combined broker and
# controller) on 127.0.0.1 for the integration tests and the demo.
#
# Usage: tests/kafka/broker.sh COMMAND [ARGS]
#
#   fetch                      resolve the broker jars into the cache (skipped when already complete)
#   start                      fetch if needed, wipe the data directory, format it, start the broker
#                              and wait until it serves consumer group requests, then print the
#                              bootstrap address; a running broker on the same data directory is
#                              stopped first
#   stop                       stop the broker that start launched (SIGTERM, then SIGKILL), delete
#                              its secure.env, and exit 0 when no broker is running
#   status                     exit 0 when the broker runs and serves a topic listing
#   topic-create NAME PARTITIONS
#                              create a topic with replication factor 1 (no error when it exists)
#   topics                     list the topics
#
# Environment (defaults in brackets):
#   KDD_CACHE              cache directory outside the clone [$HOME/.cache/kafka-deduplicator]
#   KAFKA_VERSION          Kafka version that the pom resolves [4.1.1]; only 4.1.1 is tested
#   KAFKA_PORT             client (PLAINTEXT) port [19092]
#   KAFKA_CONTROLLER_PORT  KRaft controller port [19093]
#   KAFKA_DATA_DIR         data directory, wiped by start [$KDD_CACHE/broker-$KAFKA_PORT]
#   KAFKA_HEAP_OPTS        broker JVM heap flags [-Xms256m -Xmx1g]
#   KAFKA_START_TIMEOUT    seconds start waits for the broker to serve requests [120]
#   KAFKA_STOP_TIMEOUT     seconds stop waits after SIGTERM before SIGKILL [30]
#   KAFKA_SECURE           1 makes start also open the SASL_SSL listener described below [0]
#   KAFKA_SASL_SSL_PORT    SASL_SSL port when KAFKA_SECURE=1 [19094]
#   KAFKA_SASL_USER        SASL user when KAFKA_SECURE=1 [dedup]
#   KAFKA_SASL_PASSWORD    password of that user when KAFKA_SECURE=1 [dedup-secret]
#
# Informational messages go to stderr, so `addr=$(tests/kafka/broker.sh start)`
# captures only the bootstrap address. Every address is on 127.0.0.1.
# Needs java (17 or newer) and mvn on PATH; the jars come from Maven Central
# through ~/.m2.
#
# Secure mode: `KAFKA_SECURE=1 tests/kafka/broker.sh start` keeps the PLAINTEXT
# and CONTROLLER listeners as they are and adds SASL_SSL on KAFKA_SASL_SSL_PORT
# with the mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, all for the one
# user above. It needs openssl and keytool. Start makes a new CA, a broker
# certificate (SANs DNS:localhost and IP:127.0.0.1) and a client certificate
# in $KAFKA_DATA_DIR/tls. The broker requests a client certificate but does not
# require one, and rejects one that the CA did not sign. Start waits until an
# admin client authenticates with SCRAM-SHA-512 over TLS, then writes
# $KAFKA_DATA_DIR/secure.env, names it on stderr and prints the PLAINTEXT
# address on stdout as usual. secure.env has one KEY=VALUE per line, unquoted,
# and comment lines that start with '#': KAFKA_SASL_SSL_BOOTSTRAP,
# KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE (PEM files, the
# key unencrypted PKCS#8), KAFKA_SASL_USER, KAFKA_SASL_PASSWORD and
# KAFKA_SASL_MECHANISMS (comma-separated). The file exists only from a secure
# start until the next stop or start. $KAFKA_DATA_DIR/client-sasl-ssl.properties
# configures the Kafka command-line tools for the same listener.

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

KDD_CACHE=${KDD_CACHE:-$HOME/.cache/kafka-deduplicator}
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-$KDD_CACHE/broker-$KAFKA_PORT}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_SECURE=${KAFKA_SECURE:-0}
KAFKA_SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-19094}
KAFKA_SASL_USER=${KAFKA_SASL_USER:-dedup}
KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-dedup-secret}

readonly host=127.0.0.1
readonly bootstrap="$host:$KAFKA_PORT"
readonly install_dir="$KDD_CACHE/kafka-$KAFKA_VERSION"
readonly libs_dir="$install_dir/libs"
readonly fetch_marker="$install_dir/fetch-complete"
readonly pid_file="$KAFKA_DATA_DIR/broker.pid"
readonly server_properties="$KAFKA_DATA_DIR/server.properties"
readonly broker_log="$KAFKA_DATA_DIR/logs/server.log"
readonly broker_stdout="$KAFKA_DATA_DIR/logs/broker.out"
readonly tools_log4j="$install_dir/tools-log4j2.properties"
readonly tools_client_config="$install_dir/tools-client.properties"
# A marker file that start writes into the data directory. Start wipes an
# existing, non-empty data directory only when this file is in it.
readonly data_dir_sentinel="$KAFKA_DATA_DIR/.kafka-deduplicator-test-broker"
# Secure mode only: the SASL_SSL address, the certificates and stores, the
# client configuration of the command-line tools, and the file for the tests.
readonly sasl_ssl_bootstrap="$host:$KAFKA_SASL_SSL_PORT"
readonly tls_dir="$KAFKA_DATA_DIR/tls"
readonly sasl_ssl_client_config="$KAFKA_DATA_DIR/client-sasl-ssl.properties"
readonly secure_env_file="$KAFKA_DATA_DIR/secure.env"
readonly sasl_mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512

log() { printf 'broker.sh: %s\n' "$*" >&2; }

die() {
	printf 'broker.sh: error: %s\n' "$*" >&2
	exit 1
}

# usage prints the header comment of this script and exits with status $1.
usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
	exit "$1"
}

require_port_number() {
	local name=$1 value=$2
	[[ $value =~ ^[0-9]+$ ]] && ((value > 0 && value < 65536)) ||
		die "invalid $name '$value': expected a TCP port number from 1 to 65535"
}

check_tools() {
	command -v java >/dev/null || die "java not found on PATH: install a JDK 17 or newer (tests/deps.sh checks this)"
	command -v mvn >/dev/null || die "mvn not found on PATH: install Maven (tests/deps.sh checks this)"
}

# port_open PORT succeeds when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

# process_alive PID succeeds while the process exists and has not exited. An
# exited child that is not yet reaped is a zombie (state Z) and counts as exited.
process_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# The state is the first field after the command name, which is in parentheses.
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# broker_pid prints the pid from the pid file when that process is a live
# kafka.Kafka JVM started with this data directory's server.properties, and
# fails otherwise. The command-line check guards against a reused pid, and an
# exited process that is not yet reaped has an empty command line.
broker_pid() {
	local pid cmdline
	[[ -f $pid_file ]] || return 1
	pid=$(<"$pid_file")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	[[ $cmdline == *kafka.Kafka*"$server_properties"* ]] || return 1
	printf '%s\n' "$pid"
}

# write_tool_configs writes the logging and client configuration of the
# command-line tools when it is missing.
write_tool_configs() {
	if [[ ! -f $tools_log4j ]]; then
		cat >"$tools_log4j" <<-'EOF'
			# Written by tests/kafka/broker.sh: command-line tools log warnings to stderr.
			status = warn
			appender.stderr.type = Console
			appender.stderr.name = stderr
			appender.stderr.target = SYSTEM_ERR
			appender.stderr.layout.type = PatternLayout
			appender.stderr.layout.pattern = [%d] %p %m (%c)%n
			rootLogger.level = WARN
			rootLogger.appenderRef.stderr.ref = stderr
		EOF
	fi
	if [[ ! -f $tools_client_config ]]; then
		# The admin client waits 60 s by default for a broker that does not
		# respond. The tools here give up sooner, so start and status stay bounded.
		cat >"$tools_client_config" <<-'EOF'
			# Written by tests/kafka/broker.sh: admin client settings of the command-line tools.
			request.timeout.ms=5000
			default.api.timeout.ms=10000
		EOF
	fi
}

# run_tool MAIN_CLASS ARGS... runs a Kafka command-line tool from the cached
# jars. The JIT and GC flags shorten the start of these short-lived JVMs.
run_tool() {
	write_tool_configs
	java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
		-Dlog4j2.configurationFile="$tools_log4j" -cp "$libs_dir/*" "$@"
}

# topic_command ARGS... runs org.apache.kafka.tools.TopicCommand against the broker.
topic_command() {
	run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
		--command-config "$tools_client_config" "$@"
}

# random_cluster_id prints a random Kafka Uuid: 16 random bytes in URL-safe
# base64 without padding (22 characters). Like Uuid.randomUuid in Kafka, it
# avoids ids that start with '-', which command-line parsers take for an option.
random_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ ${#id} -eq 22 && $id != -* ]] && break
	done
	printf '%s\n' "$id"
}

cmd_fetch() {
	check_tools
	mkdir -p "$install_dir"

	# Serialize fetches that share this cache, for example two test runs at once.
	exec 9>"$install_dir/fetch.lock"
	flock 9

	if [[ -f $fetch_marker && -d $libs_dir ]]; then
		exec 9>&-
		log "Kafka $KAFKA_VERSION jars already in $libs_dir"
		return 0
	fi

	# Copy into a fresh directory and rename it at the end, so an interrupted
	# fetch never leaves a partial libs directory behind the marker.
	local staging="$install_dir/libs.partial"
	rm -rf "$staging" "$libs_dir"
	log "resolving Kafka $KAFKA_VERSION jars from Maven Central into $libs_dir"
	if ! mvn -q -B -Dstyle.color=never -f "$script_dir/pom.xml" \
		-Dkafka.version="$KAFKA_VERSION" \
		dependency:copy-dependencies \
		-DincludeScope=runtime \
		-DoutputDirectory="$staging" >&2; then
		rm -rf "$staging"
		die "fetch failed: mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its dependencies; check that Maven Central is reachable and that KAFKA_VERSION names a released version"
	fi

	local main_jar="$staging/kafka_2.13-$KAFKA_VERSION.jar"
	[[ -f $main_jar ]] || die "fetch failed: $main_jar is missing after mvn dependency:copy-dependencies; delete $install_dir and run fetch again"
	mv "$staging" "$libs_dir"

	printf 'kafka %s\njars %s\n' "$KAFKA_VERSION" "$(find "$libs_dir" -name '*.jar' | wc -l)" >"$fetch_marker"
	# Release the lock now: start would otherwise pass the open descriptor on to the broker JVM.
	exec 9>&-
	log "fetched $(find "$libs_dir" -name '*.jar' | wc -l) jars into $libs_dir"
}

# prepare_data_dir wipes and recreates the data directory. It fails instead of
# wiping a non-empty directory that start did not create, because
# KAFKA_DATA_DIR may point at the wrong place.
prepare_data_dir() {
	if [[ -d $KAFKA_DATA_DIR && -n $(ls -A "$KAFKA_DATA_DIR") && ! -f $data_dir_sentinel ]]; then
		die "cannot wipe data directory $KAFKA_DATA_DIR: it is not empty and was not created by broker.sh; remove it by hand or set KAFKA_DATA_DIR to another path"
	fi
	rm -rf "$KAFKA_DATA_DIR"
	mkdir -p "$KAFKA_DATA_DIR/logs" "$KAFKA_DATA_DIR/kraft-logs"
	: >"$data_dir_sentinel"
}

write_server_properties() {
	local listeners="PLAINTEXT://$host:$KAFKA_PORT,CONTROLLER://$host:$KAFKA_CONTROLLER_PORT"
	local protocol_map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
	if secure_mode; then
		listeners+=",SASL_SSL://$sasl_ssl_bootstrap"
		protocol_map+=",SASL_SSL:SASL_SSL"
	fi

	cat >"$server_properties" <<-EOF
		# Written by tests/kafka/broker.sh: one node that is both broker and KRaft controller.
		process.roles=broker,controller
		node.id=1
		controller.quorum.bootstrap.servers=$host:$KAFKA_CONTROLLER_PORT
		controller.listener.names=CONTROLLER
		listeners=$listeners
		advertised.listeners=$listeners
		inter.broker.listener.name=PLAINTEXT
		listener.security.protocol.map=$protocol_map
		log.dirs=$KAFKA_DATA_DIR/kraft-logs

		# Topics exist only when a test creates them.
		auto.create.topics.enable=false
		num.partitions=1
		default.replication.factor=1

		# Internal topics on a single node: replication factor 1.
		offsets.topic.replication.factor=1
		# Fewer offsets partitions than the default 50 load faster on the first group lookup.
		offsets.topic.num.partitions=4
		transaction.state.log.replication.factor=1
		transaction.state.log.min.isr=1
		share.coordinator.state.topic.replication.factor=1
		share.coordinator.state.topic.min.isr=1

		# Consumer groups rebalance at once instead of waiting for more members.
		group.initial.rebalance.delay.ms=0
	EOF
	if secure_mode; then
		write_sasl_ssl_server_properties
	fi

	cat >"$KAFKA_DATA_DIR/log4j2.properties" <<-EOF
		# Written by tests/kafka/broker.sh: the broker logs to $broker_log.
		status = warn
		appender.file.type = File
		appender.file.name = file
		appender.file.fileName = $broker_log
		appender.file.layout.type = PatternLayout
		appender.file.layout.pattern = [%d] %p %m (%c)%n
		rootLogger.level = INFO
		rootLogger.appenderRef.file.ref = file
		# The request logger logs every request at DEBUG and TRACE; keep it quiet.
		logger.request.name = kafka.request.logger
		logger.request.level = WARN
	EOF
}

# secure_mode succeeds when KAFKA_SECURE is 1, which adds the SASL_SSL listener.
secure_mode() {
	[[ $KAFKA_SECURE == 1 ]]
}

# check_secure_settings validates the secure-mode settings and tools. The user
# name and password go unquoted into the JAAS configuration, the --add-scram
# argument of the storage tool and secure.env, so they are limited to
# characters that none of these formats treats specially.
check_secure_settings() {
	require_port_number KAFKA_SASL_SSL_PORT "$KAFKA_SASL_SSL_PORT"
	if [[ $KAFKA_SASL_SSL_PORT == "$KAFKA_PORT" || $KAFKA_SASL_SSL_PORT == "$KAFKA_CONTROLLER_PORT" ]]; then
		die "invalid KAFKA_SASL_SSL_PORT '$KAFKA_SASL_SSL_PORT': it equals KAFKA_PORT or KAFKA_CONTROLLER_PORT; choose another port"
	fi
	[[ $KAFKA_SASL_USER =~ ^[A-Za-z0-9._-]+$ ]] ||
		die "invalid KAFKA_SASL_USER '$KAFKA_SASL_USER': use only letters, digits, '.', '_' and '-'"
	[[ $KAFKA_SASL_PASSWORD =~ ^[A-Za-z0-9._-]+$ ]] ||
		die "invalid KAFKA_SASL_PASSWORD: use only letters, digits, '.', '_' and '-'"
	[[ $KAFKA_DATA_DIR =~ ^[A-Za-z0-9._/+-]+$ ]] ||
		die "invalid KAFKA_DATA_DIR '$KAFKA_DATA_DIR' for secure mode: secure.env holds unquoted paths, so use only letters, digits and '._/+-'"
	command -v openssl >/dev/null || die "openssl not found on PATH: install it (Debian package openssl) to use KAFKA_SECURE=1"
	command -v keytool >/dev/null || die "keytool not found on PATH: it ships with the JDK; install a full JDK 17 or newer to use KAFKA_SECURE=1"
}

# generate_tls_material writes new certificates and stores into $tls_dir and
# the store password into $tls_dir/store-password.
generate_tls_material() {
	local store_password
	store_password=$(openssl rand -hex 16)
	if ! bash "$script_dir/tls.sh" "$tls_dir" "$KAFKA_SASL_USER" "$store_password" >"$KAFKA_DATA_DIR/logs/tls.out" 2>&1; then
		cat "$KAFKA_DATA_DIR/logs/tls.out" >&2
		die "cannot generate the TLS certificates in $tls_dir with openssl and keytool (output above)"
	fi
	(umask 077 && printf '%s\n' "$store_password" >"$tls_dir/store-password")
	log "generated a CA, a broker and a client certificate in $tls_dir"
}

# write_sasl_ssl_server_properties appends the SASL_SSL listener settings to
# server.properties. Every setting has the listener prefix, so the PLAINTEXT
# and CONTROLLER listeners keep their defaults. PLAIN checks the user_NAME
# entries of its JAAS configuration, and the SCRAM mechanisms check the
# credentials that the storage tool wrote at format time.
write_sasl_ssl_server_properties() {
	local store_password prefix=listener.name.sasl_ssl
	store_password=$(<"$tls_dir/store-password")
	cat >>"$server_properties" <<-EOF

		# SASL_SSL listener (KAFKA_SECURE=1).
		$prefix.sasl.enabled.mechanisms=$sasl_mechanisms
		$prefix.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
		$prefix.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
		$prefix.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
		$prefix.ssl.keystore.type=PKCS12
		$prefix.ssl.keystore.location=$tls_dir/broker.p12
		$prefix.ssl.keystore.password=$store_password
		$prefix.ssl.key.password=$store_password
		$prefix.ssl.truststore.type=PKCS12
		$prefix.ssl.truststore.location=$tls_dir/truststore.p12
		$prefix.ssl.truststore.password=$store_password
		$prefix.ssl.client.auth=requested
	EOF

	cat >"$sasl_ssl_client_config" <<-EOF
		# Written by tests/kafka/broker.sh: command-line tools on the SASL_SSL listener $sasl_ssl_bootstrap.
		security.protocol=SASL_SSL
		sasl.mechanism=SCRAM-SHA-512
		sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_SASL_USER" password="$KAFKA_SASL_PASSWORD";
		ssl.truststore.type=PKCS12
		ssl.truststore.location=$tls_dir/truststore.p12
		ssl.truststore.password=$store_password
		request.timeout.ms=5000
		default.api.timeout.ms=10000
	EOF
}

# scram_format_args prints the storage tool arguments, one per line, that add
# the SASL user's SCRAM-SHA-256 and SCRAM-SHA-512 credentials.
scram_format_args() {
	local mechanism
	for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
		printf -- '--add-scram\n%s=[name=%s,password=%s]\n' "$mechanism" "$KAFKA_SASL_USER" "$KAFKA_SASL_PASSWORD"
	done
}

# wait_sasl_ssl_ready PID DEADLINE waits until an admin client authenticates
# with SCRAM-SHA-512 over TLS and lists the topics. It stops the broker and
# exits when the broker dies or DEADLINE (in $SECONDS) passes.
wait_sasl_ssl_ready() {
	local pid=$1 deadline=$2 output
	while :; do
		output=$(run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$sasl_ssl_bootstrap" \
			--command-config "$sasl_ssl_client_config" --list 2>&1) && break
		if ! process_alive "$pid"; then
			print_log_tail
			rm -f "$pid_file"
			die "the broker (pid $pid) exited during startup; its log is above and in $KAFKA_DATA_DIR/logs"
		fi
		if ((SECONDS >= deadline)); then
			printf '%s\n' "$output" >&2
			print_log_tail
			cmd_stop
			die "the broker did not accept a SCRAM-SHA-512 login on $sasl_ssl_bootstrap within ${KAFKA_START_TIMEOUT}s and was stopped; the last probe output and the broker log are above, the listener settings are in $server_properties"
		fi
		sleep 0.5
	done
}

# write_secure_env writes secure.env through a temporary file, so a reader
# never sees a partial file.
write_secure_env() {
	cat >"$secure_env_file.tmp" <<-EOF
		# Written by tests/kafka/broker.sh start with KAFKA_SECURE=1. The next stop or start deletes it.
		KAFKA_SASL_SSL_BOOTSTRAP=$sasl_ssl_bootstrap
		KAFKA_TLS_CA_FILE=$tls_dir/ca.pem
		KAFKA_TLS_CERT_FILE=$tls_dir/client.pem
		KAFKA_TLS_KEY_FILE=$tls_dir/client.key
		KAFKA_SASL_USER=$KAFKA_SASL_USER
		KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD
		KAFKA_SASL_MECHANISMS=$sasl_mechanisms
	EOF
	mv "$secure_env_file.tmp" "$secure_env_file"
}

print_log_tail() {
	local file
	for file in "$broker_stdout" "$broker_log"; do
		[[ -s $file ]] || continue
		printf 'broker.sh: last lines of %s:\n' "$file" >&2
		tail -n 40 "$file" >&2
	done
}

cmd_start() {
	check_tools
	require_port_number KAFKA_PORT "$KAFKA_PORT"
	require_port_number KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
	[[ $KAFKA_START_TIMEOUT =~ ^[0-9]+$ ]] || die "invalid KAFKA_START_TIMEOUT '$KAFKA_START_TIMEOUT': expected whole seconds"
	[[ $KAFKA_SECURE == [01] ]] || die "invalid KAFKA_SECURE '$KAFKA_SECURE': expected 1 (add the SASL_SSL listener) or 0"
	local ports=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT")
	if secure_mode; then
		check_secure_settings
		ports+=("$KAFKA_SASL_SSL_PORT")
	fi

	# A broker left over from an earlier start on this data directory is stopped,
	# so start always gives a fresh, empty cluster.
	if broker_pid >/dev/null; then
		log "a broker from an earlier start is running (pid $(broker_pid)); stopping it first"
		cmd_stop
	fi
	local port
	for port in "${ports[@]}"; do
		if port_open "$port"; then
			die "cannot start the broker: $host:$port is already in use by another process (see: ss -ltnp 'sport = :$port'); stop it or set KAFKA_PORT, KAFKA_CONTROLLER_PORT and KAFKA_SASL_SSL_PORT to free ports"
		fi
	done

	cmd_fetch

	# Step 1: a fresh data directory and configuration, and in secure mode new
	# certificates.
	prepare_data_dir
	if secure_mode; then
		generate_tls_material
	fi
	write_server_properties

	# Step 2: format the storage as a new cluster whose controller quorum is this
	# node alone (--standalone makes it the single initial voter). In secure mode
	# the SCRAM credentials go into the initial metadata here.
	local cluster_id format_args=()
	cluster_id=$(random_cluster_id)
	if secure_mode; then
		mapfile -t format_args < <(scram_format_args)
	fi
	if ! run_tool kafka.tools.StorageTool format \
		--config "$server_properties" \
		--cluster-id "$cluster_id" \
		--standalone "${format_args[@]}" >"$KAFKA_DATA_DIR/logs/format.out" 2>&1; then
		cat "$KAFKA_DATA_DIR/logs/format.out" >&2
		die "cannot format KRaft storage in $KAFKA_DATA_DIR/kraft-logs with kafka.tools.StorageTool (output above); check $server_properties"
	fi

	# Step 3: start the broker in its own session, so it outlives this script and
	# a Ctrl-C in the calling shell does not reach it.
	local pid
	# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS holds several JVM flags.
	setsid java $KAFKA_HEAP_OPTS \
		-XX:+UseG1GC \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$KAFKA_DATA_DIR/log4j2.properties" \
		-cp "$libs_dir/*" \
		kafka.Kafka "$server_properties" \
		</dev/null >"$broker_stdout" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$pid_file"
	log "started Kafka $KAFKA_VERSION broker (pid $pid, data directory $KAFKA_DATA_DIR)"

	# Step 4: wait until the client port accepts connections.
	local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
	until port_open "$KAFKA_PORT"; do
		if ! process_alive "$pid"; then
			print_log_tail
			rm -f "$pid_file"
			die "the broker (pid $pid) exited during startup; its log is above and in $KAFKA_DATA_DIR/logs"
		fi
		if ((SECONDS >= deadline)); then
			print_log_tail
			cmd_stop
			die "the broker did not listen on $bootstrap within ${KAFKA_START_TIMEOUT}s and was stopped; its log is above and in $KAFKA_DATA_DIR/logs (raise KAFKA_START_TIMEOUT on a slow machine)"
		fi
		sleep 0.2
	done

	# Step 5: wait until the broker serves requests and its group coordinator is
	# ready. The broker creates the offsets topic on the first coordinator lookup
	# and returns COORDINATOR_NOT_AVAILABLE until that topic is loaded. kafka-go's
	# ConsumerGroup (v0.4.51) then waits JoinGroupBackoff, 5 s by default, before
	# it joins again. Describing an unknown group does that lookup, and the admin
	# client retries until the coordinator returns GroupIdNotFoundException.
	# Each attempt gives up after the admin timeout in tools-client.properties
	# (10 s), so start may overrun KAFKA_START_TIMEOUT by that much.
	local output
	while :; do
		output=$(run_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
			--bootstrap-server "$bootstrap" --command-config "$tools_client_config" \
			--describe --group broker-sh-readiness-probe 2>&1) || true
		[[ $output == *GroupIdNotFoundException* ]] && break
		if ! process_alive "$pid"; then
			print_log_tail
			rm -f "$pid_file"
			die "the broker (pid $pid) exited during startup; its log is above and in $KAFKA_DATA_DIR/logs"
		fi
		if ((SECONDS >= deadline)); then
			printf '%s\n' "$output" >&2
			print_log_tail
			cmd_stop
			die "the broker on $bootstrap did not serve consumer group requests within ${KAFKA_START_TIMEOUT}s and was stopped; the last probe output and the broker log are above (raise KAFKA_START_TIMEOUT on a slow machine)"
		fi
		sleep 0.5
	done

	# Step 6, secure mode only: wait for a SASL login over TLS, then tell the
	# tests where the listener and the client files are.
	if secure_mode; then
		wait_sasl_ssl_ready "$pid" "$deadline"
		write_secure_env
		log "SASL_SSL listener ready on $sasl_ssl_bootstrap; client settings in $secure_env_file"
	fi

	log "broker ready on $bootstrap"
	printf '%s\n' "$bootstrap"
}

cmd_stop() {
	[[ $KAFKA_STOP_TIMEOUT =~ ^[0-9]+$ ]] || die "invalid KAFKA_STOP_TIMEOUT '$KAFKA_STOP_TIMEOUT': expected whole seconds"
	# secure.env goes first, so no test reads it while the broker shuts down.
	rm -f "$secure_env_file"
	local pid
	if ! pid=$(broker_pid); then
		rm -f "$pid_file"
		log "no broker running for data directory $KAFKA_DATA_DIR"
		return 0
	fi

	log "stopping broker (pid $pid) with SIGTERM"
	kill -TERM "$pid" 2>/dev/null || true

	# Wait with process_alive, not broker_pid: a dying process loses its command
	# line before it closes its sockets, and start needs the ports free.
	local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
	while process_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.2
	done

	if process_alive "$pid"; then
		log "broker (pid $pid) still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 10))
		while process_alive "$pid" && ((SECONDS < deadline)); do
			sleep 0.2
		done
		if process_alive "$pid"; then
			die "cannot stop broker (pid $pid): it survived SIGKILL for 10s; check it with: ps -o pid,stat,cmd -p $pid"
		fi
	fi
	rm -f "$pid_file"
	log "broker stopped"
}

cmd_status() {
	local pid
	if ! pid=$(broker_pid); then
		log "not running: no live broker for data directory $KAFKA_DATA_DIR"
		return 1
	fi
	if ! topic_command --list >/dev/null 2>&1; then
		log "broker process $pid is alive but does not respond to a topic listing on $bootstrap"
		return 1
	fi
	log "running: pid $pid, bootstrap $bootstrap"
}

require_fetched() {
	[[ -f $fetch_marker && -d $libs_dir ]] || die "Kafka $KAFKA_VERSION jars are not in $libs_dir: run '$0 fetch' or '$0 start' first"
}

cmd_topic_create() {
	(($# == 2)) || die "usage: $0 topic-create NAME PARTITIONS"
	local name=$1 partitions=$2
	[[ $partitions =~ ^[1-9][0-9]*$ ]] || die "invalid partition count '$partitions' for topic '$name': expected a positive whole number"
	require_fetched
	topic_command --create --if-not-exists --topic "$name" \
		--partitions "$partitions" --replication-factor 1 >&2 ||
		die "cannot create topic '$name' with $partitions partitions on $bootstrap; check that the broker runs ('$0 status')"
}

cmd_topics() {
	require_fetched
	topic_command --list ||
		die "cannot list topics on $bootstrap; check that the broker runs ('$0 status')"
}

main() {
	(($# >= 1)) || usage 2
	local command=$1
	shift
	case $command in
	fetch) cmd_fetch ;;
	start) cmd_start ;;
	stop) cmd_stop ;;
	status) cmd_status ;;
	topic-create) cmd_topic_create "$@" ;;
	topics) cmd_topics ;;
	-h | --help | help) usage 0 ;;
	*)
		log "unknown command '$command'"
		usage 2
		;;
	esac
}

main "$@"
