#!/bin/bash
# Capture golden Kafka frames and record batches from real clients talking to librdkafka's
# mock cluster on loopback. See docs/test-data.md for what is captured and the file formats.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
PYTHON=/usr/bin/python3

BUILD_DIR="$REPO_ROOT/build"
DATA_DIR="$REPO_ROOT/tests/data"
CLIENTS="kcat kafka-python kafkajs"
KEEP_PCAPS=""
BROKERS=3
CODECS="none gzip snappy lz4 zstd"
MESSAGES_PER_CODEC=24

usage() {
    cat <<EOF
usage: tools/capture/capture-golden.sh [--build-dir DIR] [--data-dir DIR]
                                       [--clients "kcat kafka-python kafkajs"]
                                       [--brokers N] [--keep-pcaps DIR] [--help]

Runs each client's scenario against a fresh librdkafka mock cluster
(build/tools/capture/sluice-mock-cluster) while tshark records loopback traffic to the
cluster's ports, then splits the streams into frames:
  tests/data/golden/<client>/<NNNN>-<ApiName>-v<ver>-<req|resp>.bin + golden/INDEX.tsv
  tests/data/batches/<client>-<compression>-<NN>.bin + batches/INDEX.tsv
Rows of clients not named in --clients are kept in the INDEX files. Needs root (tshark on
lo), kcat, /usr/bin/python3 with python3-kafka, and node with kafkajs installed by
'npm ci' in tools/capture/node (done automatically when missing).

  --build-dir DIR   meson build dir holding tools/capture/sluice-mock-cluster (default build)
  --data-dir DIR    where golden/ and batches/ go (default tests/data)
  --clients LIST    space-separated subset of: kcat kafka-python kafkajs
  --brokers N       brokers in the mock cluster (default 3)
  --keep-pcaps DIR  copy the raw pcaps there (they are not committed)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) BUILD_DIR=$(realpath "$2"); shift 2 ;;
    --data-dir) DATA_DIR=$(realpath -m "$2"); shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --keep-pcaps) KEEP_PCAPS=$(realpath -m "$2"); shift 2 ;;
    --brokers) BROKERS="$2"; shift 2 ;;
    --help | -h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

MOCK_BIN="$BUILD_DIR/tools/capture/sluice-mock-cluster"
[ -x "$MOCK_BIN" ] || { echo "missing $MOCK_BIN: run 'meson compile -C $BUILD_DIR' first" >&2; exit 1; }
command -v tshark >/dev/null || { echo "tshark not installed" >&2; exit 1; }

WORK_DIR=$(mktemp -d /tmp/sluice-capture.XXXXXX)
MOCK_PID=""
TSHARK_PID=""

stop_pid() {
    local pid="$1" signal="$2"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "-$signal" "$pid" 2>/dev/null || true
        # Bounded wait: a stuck process gets SIGKILL after 10 s.
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

cleanup() {
    stop_pid "$TSHARK_PID" INT
    stop_pid "$MOCK_PID" TERM
    rm -rf "$WORK_DIR"
}
trap cleanup EXIT

# start_cluster TOPIC_SPEC...: sets MOCK_PID, BOOTSTRAP and PORT_FILTER.
start_cluster() {
    local args=()
    for spec in "$@"; do args+=(--topic "$spec"); done
    "$MOCK_BIN" --brokers "$BROKERS" "${args[@]}" >"$WORK_DIR/mock.out" 2>"$WORK_DIR/mock.err" &
    MOCK_PID=$!
    for _ in $(seq 100); do
        [ -s "$WORK_DIR/mock.out" ] && break
        sleep 0.1
    done
    BOOTSTRAP=$(head -n1 "$WORK_DIR/mock.out")
    [ -n "$BOOTSTRAP" ] || { cat "$WORK_DIR/mock.err" >&2; echo "mock cluster did not start" >&2; exit 1; }
    PORT_FILTER=""
    local hostport
    for hostport in ${BOOTSTRAP//,/ }; do
        case "$hostport" in
        127.0.0.1:*) ;;
        *) echo "mock cluster listens on $hostport, expected 127.0.0.1" >&2; exit 1 ;;
        esac
        PORT_FILTER="${PORT_FILTER:+$PORT_FILTER or }tcp port ${hostport##*:}"
    done
}

# start_tshark PCAP: classic pcap format so extract-frames.py needs no pcapng parser.
start_tshark() {
    tshark -i lo -f "$PORT_FILTER" -F pcap -w "$1" -q >"$WORK_DIR/tshark.out" 2>"$WORK_DIR/tshark.err" &
    TSHARK_PID=$!
    for _ in $(seq 100); do
        grep -q "Capturing on" "$WORK_DIR/tshark.err" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "Capturing on" "$WORK_DIR/tshark.err" || { cat "$WORK_DIR/tshark.err" >&2; exit 1; }
    sleep 0.5 # the capture filter is attached shortly after the banner
}

stop_capture() {
    sleep 0.5 # let the last responses reach the capture
    stop_pid "$TSHARK_PID" INT
    TSHARK_PID=""
    if grep -Eq '[1-9][0-9]* packets? dropped' "$WORK_DIR/tshark.err"; then
        cat "$WORK_DIR/tshark.err" >&2
        echo "tshark dropped packets; the capture would be incomplete" >&2
        exit 1
    fi
    stop_pid "$MOCK_PID" TERM
    MOCK_PID=""
}

# Small keyed messages so Produce/Fetch frames stay small while batches hold many records.
make_messages() {
    local tag="$1" count="$2"
    for i in $(seq 1 "$count"); do
        printf 'key-%02d:%s value %02d\n' "$i" "$tag" "$i"
    done
}

scenario_kcat() {
    local b="$BOOTSTRAP" codec
    kcat -b "$b" -L >/dev/null
    for codec in $CODECS; do
        make_messages "$codec" "$MESSAGES_PER_CODEC" |
            kcat -b "$b" -P -t "golden-$codec" -p 0 -K : -H source=kcat -H codec="$codec" \
                -z "$codec" -X linger.ms=200 -X batch.num.messages=1000
    done
    # Second round without keys and with small batches: several batches per codec, null keys.
    for codec in $CODECS; do
        make_messages "$codec-unkeyed" 30 | cut -d: -f2 |
            kcat -b "$b" -P -t "golden-$codec" -p 0 -z "$codec" -X linger.ms=200 \
                -X batch.num.messages=10
    done
    # Keyed messages spread over three partitions: one Produce carries several partitions.
    make_messages multi 30 | kcat -b "$b" -P -t golden-multi -K : -X linger.ms=200
    make_messages transactional 20 |
        kcat -b "$b" -P -t golden-txn -K : -X transactional.id=golden-txn -X linger.ms=200
    make_messages idempotent 20 |
        kcat -b "$b" -P -t golden-idempotent -K : -z lz4 -X enable.idempotence=true -X linger.ms=200
    for codec in $CODECS; do
        kcat -b "$b" -C -t "golden-$codec" -o beginning -e -q >/dev/null
    done
    timeout 60 kcat -b "$b" -G golden-group -X auto.offset.reset=earliest \
        -X auto.commit.interval.ms=200 -c 40 -q golden-none golden-gzip >/dev/null
    kcat -b "$b" -Q -t "golden-none:0:0" -t "golden-zstd:0:-1" >/dev/null || true
}

scenario_kafka_python() {
    timeout 120 "$PYTHON" "$SCRIPT_DIR/scenario_kafka_python.py" "$BOOTSTRAP"
}

scenario_kafkajs() {
    local node_dir="$SCRIPT_DIR/node"
    if [ ! -d "$node_dir/node_modules/kafkajs" ]; then
        (cd "$node_dir" && npm ci --no-audit --no-fund >/dev/null)
    fi
    timeout 120 node "$node_dir/scenario.js" "$BOOTSTRAP"
}

# Topics every client uses; pre-created because the mock does not implement CreateTopics.
TOPICS=()
for codec in $CODECS; do TOPICS+=("golden-$codec:1"); done
TOPICS+=(golden-idempotent:1 golden-txn:1 golden-acks0:1 golden-acks1:1 golden-acksall:1 golden-multi:3)
MARKERS=()
for topic in "${TOPICS[@]}"; do MARKERS+=(--marker "${topic%%:*}"); done

FRAME_ARGS=()
for client in $CLIENTS; do
    case "$client" in
    kcat | kafka-python | kafkajs) ;;
    *) echo "unknown client $client" >&2; exit 2 ;;
    esac
    pcap="$WORK_DIR/$client.pcap"
    echo "== $client"
    start_cluster "${TOPICS[@]}"
    start_tshark "$pcap"
    "scenario_${client//-/_}"
    stop_capture
    FRAME_ARGS+=("$client=$pcap")
done

# tshark's own TCP reassembly and Kafka dissector must agree with our parsing before anything
# is written.
"$PYTHON" "$SCRIPT_DIR/crosscheck-tshark.py" "${FRAME_ARGS[@]}"
mkdir -p "$DATA_DIR/golden" "$DATA_DIR/batches"
"$PYTHON" "$SCRIPT_DIR/extract-frames.py" --golden-dir "$DATA_DIR/golden" "${MARKERS[@]}" "${FRAME_ARGS[@]}"
"$PYTHON" "$SCRIPT_DIR/extract-batches.py" --batches-dir "$DATA_DIR/batches" "${FRAME_ARGS[@]}"
"$PYTHON" "$SCRIPT_DIR/verify-data.py" "$DATA_DIR"
if [ -n "$KEEP_PCAPS" ]; then
    mkdir -p "$KEEP_PCAPS"
    cp "$WORK_DIR"/*.pcap "$KEEP_PCAPS"/
fi
du -sh "$DATA_DIR/golden" "$DATA_DIR/batches"
