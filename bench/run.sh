#!/usr/bin/env bash
# bench/run.sh: benchmarks the fileshares backend's own HTTP transport
# (`sss-host-sim fetch`) against aria2c and curl, on local nginx peers that are
# rate-limited per peer (limit_rate) and allow one connection per client
# (limit_conn), each peer on its own loopback address 127.0.0.N.
# See bench/README.md; docs/BENCHMARKS.md holds the numbers of one full run.
#
#   bench/run.sh [--quick] [--repeat N] [--build DIR | --no-build] [--only 1,2,..]
#                [--set KEY=VALUE ...] [--md FILE] [--keep] [-v]
set -euo pipefail

ORIG_ARGS=("$@")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/run.sh${*:+ $*}"

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]
  --quick          small files and rates: a smoke check of all five (< ~60 s)
  --repeat N       runs of every measurement; the median is reported (default 1)
  --build DIR      build directory (default ROOT/build-bench), configured and
                   built as Release first
  --no-build       use the build directory as it is
  --only LIST      benchmarks to run, comma-separated (default 1,2,3,4,5)
  --set KEY=VALUE  extra plugin option for every run of ours (repeatable)
  --md FILE        also write the report (markdown) to FILE
  --shaper KIND    how peers are rate-limited: tc (default: nginx limit_rate
                   plus a token bucket per peer address, tc htb, on the
                   loopback of a private network namespace: unshare --net;
                   needs root) or nginx (limit_rate alone, which lets every
                   request start with a second's worth at full speed); see
                   bench/README.md
  --keep           keep the work directory (files, nginx logs, every run's output)
  -v, --verbose    print each measured command
  -h, --help       this text
Needs: nginx, curl, aria2c, openssl, sha256sum, /usr/bin/time (package time),
ss (iproute2), cmake and a C compiler (unless --no-build).
EOF
}

QUICK=0 REPEAT=1 BUILD_DIR="$ROOT/build-bench" DO_BUILD=1 ONLY="1,2,3,4,5"
KEEP=0 MD_FILE="" VERBOSE=0 SHAPER=tc
EXTRA_SET=()
while (($#)); do
  case $1 in
  --quick) QUICK=1 ;;
  --repeat) REPEAT=${2:?--repeat needs N}; shift ;;
  --build) BUILD_DIR=${2:?--build needs DIR}; shift ;;
  --no-build) DO_BUILD=0 ;;
  --only) ONLY=${2:?--only needs a list}; shift ;;
  --set) EXTRA_SET+=(--set "${2:?--set needs KEY=VALUE}"); shift ;;
  --md) MD_FILE=${2:?--md needs FILE}; shift ;;
  --shaper) SHAPER=${2:?--shaper needs nginx or tc}; shift ;;
  --keep) KEEP=1 ;;
  -v | --verbose) VERBOSE=1 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "run.sh: unknown option '$1'; see --help" >&2; exit 2 ;;
  esac
  shift
done
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --repeat needs a positive integer" >&2; exit 2; }
[[ $BUILD_DIR = /* ]] || BUILD_DIR="$PWD/$BUILD_DIR"
want() { [[ ",$ONLY," == *",$1,"* ]]; }
case $SHAPER in nginx | tc) ;; *) echo "run.sh: --shaper is nginx or tc" >&2; exit 2 ;; esac

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

export PATH="$PATH:/usr/sbin:/sbin" # nginx, tc, ip
for tool in nginx:nginx-light curl:curl aria2c:aria2 openssl:openssl \
  sha256sum:coreutils ss:iproute2 awk:gawk; do
  command -v "${tool%%:*}" >/dev/null 2>&1 ||
    die "'${tool%%:*}' not found: apt-get install ${tool#*:}"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found: apt-get install time"
if [[ $SHAPER == tc ]]; then
  # tc changes the loopback's qdisc: do it on the loopback of a network
  # namespace of our own, so no other traffic on this machine is touched.
  if [[ -z ${SSS_BENCH_NETNS:-} ]]; then
    { command -v unshare && command -v tc; } >/dev/null || die "--shaper tc needs unshare and tc (iproute2)"
    [[ $(id -u) == 0 ]] || die "--shaper tc needs root (a network namespace of its own); or use --shaper nginx"
    exec unshare --net env SSS_BENCH_NETNS=1 "$0" "${ORIG_ARGS[@]}"
  fi
  ip link set lo up
fi
NGINX=$(command -v nginx)

# ---- Sizes and rates --------------------------------------------------------
MiB=$((1024 * 1024))
if ((QUICK)); then
  # Small, and slow enough that each peer's share (4 MiB) outlasts nginx's
  # one-second allowance per request (see "limit_rate" below).
  S_PEERS=$((16 * MiB)) S_UNLIM=$((32 * MiB)) S_RSS=$((64 * MiB))
  RATE_MIB=2 SLOW_KIB=100
else
  S_PEERS=$((256 * MiB)) S_UNLIM=$((512 * MiB)) S_RSS=$((1024 * MiB))
  RATE_MIB=20 SLOW_KIB=1024
fi
RATE_BPS=$((RATE_MIB * MiB))

# ---- Build ------------------------------------------------------------------
if ((DO_BUILD)); then
  log "building Release into $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" >"$BUILD_DIR/bench-build.log" 2>&1 ||
    log "build failed (see $BUILD_DIR/bench-build.log); ours is measured only if the binaries exist"
fi
HOSTSIM="$BUILD_DIR/host-sim/sss-host-sim"
PLUGIN="$BUILD_DIR/plugin/libsss_fileshares.so"
OURS_OK=0 OURS_WHY=""
if [[ ! -x $HOSTSIM ]]; then
  OURS_WHY="no $HOSTSIM"
elif [[ ! -f $PLUGIN ]]; then
  OURS_WHY="no $PLUGIN"
elif [[ $("$HOSTSIM" fetch --help 2>&1 || true) != *--block* ]]; then
  OURS_WHY="'sss-host-sim fetch --help' fails: the fetch command is missing"
else
  OURS_OK=1
fi
((OURS_OK)) || log "ours is not measured: $OURS_WHY"
# What was measured: the build's source tree and its commit (read now: the
# checkout may move while the benchmarks run).
SRC_DIR=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
SRC_DIR=${SRC_DIR:-$ROOT}
if GIT_REV=$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null); then
  [[ -n $(git -C "$SRC_DIR" status --porcelain -- plugin host-sim abi 2>/dev/null) ]] &&
    GIT_REV+=" with uncommitted changes in plugin/, host-sim/ or abi/"
  GIT_REV="git $GIT_REV"
else
  GIT_REV="sources in $SRC_DIR (not a git checkout)"
fi

# ---- Work dir, cleanup ------------------------------------------------------
W=$(mktemp -d "${TMPDIR:-/tmp}/sss-bench.XXXXXX")
chmod 755 "$W"
DATA="$W/data" RUNS="$W/runs" OUT="$W/out" STAGE="$W/stage"
mkdir -p "$DATA" "$RUNS" "$OUT" "$STAGE"
declare -A NGX_PID=()  # nginx name -> pid of a running nginx we started
BG_PID=""              # a measured command running in the background

kill_tree() { # pid: the process and its descendants (subshell -> time -> tool)
  local p=$1 k
  for k in $(ps -o pid= --ppid "$p" 2>/dev/null || true); do kill_tree "$k"; done
  kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $BG_PID ]] && kill_tree "$BG_PID"
  local n
  for n in "${!NGX_PID[@]}"; do kill -TERM "${NGX_PID[$n]}" 2>/dev/null || true; done
  for n in "${!NGX_PID[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "${NGX_PID[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${NGX_PID[$n]}" 2>/dev/null || true
  done
  if ((KEEP)); then log "kept the work directory $W"; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- Test files -------------------------------------------------------------
# Deterministic bytes: the AES-128-CTR keystream of a key derived from the
# label. The file's name (the block id) is the SHA-256 of "sss-bench/LABEL/SIZE".
declare -A FID=() FSHA=() FSIZE=()
gen_file() { # label size
  local label=$1 size=$2 id
  id=$(printf 'sss-bench/%s/%s' "$label" "$size" | sha256sum | cut -c1-64)
  FSHA[$label]=$(head -c "$size" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K "${id:0:32}" -iv "${id:32:32}" |
    tee "$DATA/$id" | openssl dgst -sha256 -r | cut -c1-64)
  chmod 644 "$DATA/$id"
  FID[$label]=$id FSIZE[$label]=$size
}
log "generating test files in $W"
want 1 || want 4 || want 5 && gen_file peers "$S_PEERS"
want 2 && gen_file unlim "$S_UNLIM"
want 3 && gen_file rss "$S_RSS"
echo ok >"$DATA/ready"
sync # so that no writeback of the test files runs during the first benchmark

# ---- nginx peers ------------------------------------------------------------
# Every peer is a server block on its own 127.0.0.N, same port. Two processes:
# "main" serves every peer but p4; "victim" serves p4 alone, so benchmark 4 can
# kill it without touching the others. Both run single-process (master_process
# off), so the pid we hold is the one serving.
#   p1..p4  127.0.0.11..14  RATE_MIB MiB/s each      (benchmarks 1, 4, 5)
#   slow    127.0.0.15      SLOW_KIB KiB/s           (benchmark 5)
#   u1..u4  127.0.0.21..24  unlimited                (benchmarks 2, 3)
# limit_conn 1 per client address and peer (a zone per peer), limit_rate per
# request with limit_rate_after 0. Note nginx's limit_rate lets a request send
# rate x (whole seconds elapsed + 1) bytes: every request may start with up to
# one second's worth of bytes at full speed (a burst); the report counts the
# requests each tool made. The limited peers have a 256 KiB socket send
# buffer, so little is still queued in the kernel when a peer is killed.
declare -A PEER_ADDR=([p1]=127.0.0.11 [p2]=127.0.0.12 [p3]=127.0.0.13 [p4]=127.0.0.14
  [slow]=127.0.0.15 [u1]=127.0.0.21 [u2]=127.0.0.22 [u3]=127.0.0.23 [u4]=127.0.0.24)
declare -A PEER_RATE=([p1]=$RATE_BPS [p2]=$RATE_BPS [p3]=$RATE_BPS [p4]=$RATE_BPS
  [slow]=$((SLOW_KIB * 1024)) [u1]=0 [u2]=0 [u3]=0 [u4]=0)
NGX_MAIN_PEERS="p1 p2 p3 slow u1 u2 u3 u4"
NGX_VICTIM_PEERS="p4"
PORT=0

write_conf() { # name peers...
  local name=$1; shift
  local d="$W/ngx-$name" p sndbuf
  mkdir -p "$d/tmp"
  {
    cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  log_format bench '\$server_addr \$request_method \$status \$bytes_sent \$request_time \$msec "\$http_range" \$connection \$connection_requests';
  access_log $d/access.log bench;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000;
EOF
    for p in "$@"; do
      echo "  limit_conn_zone \$binary_remote_addr zone=c_$p:1m;"
    done
    for p in "$@"; do
      sndbuf=""
      [[ ${PEER_RATE[$p]} == 0 ]] || sndbuf=" sndbuf=262144"
      cat <<EOF
  server {
    listen ${PEER_ADDR[$p]}:$PORT$sndbuf;
    root $DATA;
    limit_conn c_$p 1;
    limit_rate ${PEER_RATE[$p]};
    limit_rate_after 0;
    location / { }
  }
EOF
    done
    echo "}"
  } >"$d/nginx.conf"
}

start_nginx() { # name: starts it, waits until every peer answers; 1 if it died
  local name=$1 peers p
  [[ $name == main ]] && peers=$NGX_MAIN_PEERS || peers=$NGX_VICTIM_PEERS
  "$NGINX" -p "$W/ngx-$name" -c "$W/ngx-$name/nginx.conf" -e "$W/ngx-$name/error.log" \
    </dev/null >>"$W/ngx-$name/stdout.log" 2>&1 &
  NGX_PID[$name]=$!
  for p in $peers; do
    for ((i = 0; ; i++)); do
      kill -0 "${NGX_PID[$name]}" 2>/dev/null || { unset "NGX_PID[$name]"; return 1; }
      curl -s -o /dev/null --max-time 1 "http://${PEER_ADDR[$p]}:$PORT/ready" && break
      ((i < 100)) || die "nginx $name does not answer on ${PEER_ADDR[$p]}:$PORT"
      sleep 0.05
    done
  done
}

stop_nginx() { # name [signal]
  local name=$1 sig=${2:-TERM} pid=${NGX_PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "NGX_PID[$name]"
}

ensure_victim() { [[ -n ${NGX_PID[victim]:-} ]] || start_nginx victim || die "cannot restart the victim nginx"; }

# --shaper tc: the root qdisc of (our namespace's) lo is an htb without a
# default class, so every packet passes unshaped, but the packets from a
# limited peer's address and port: each such peer has a class of its own
# (rate = ceil = the peer's rate, burst 128 KiB), so no tool gets more than
# the rate from a peer, however many requests or connections it makes.
setup_tc() {
  local cls=2 p r
  tc qdisc del dev lo root 2>/dev/null || true
  tc qdisc add dev lo root handle 1: htb || return 1
  for p in p1 p2 p3 p4 slow; do
    r="$((PEER_RATE[$p] * 8))bit"
    tc class add dev lo parent 1: classid 1:$cls htb rate "$r" ceil "$r" \
      burst 131072 cburst 131072 quantum 131072 || return 1
    tc filter add dev lo parent 1: protocol ip prio 1 u32 \
      match ip src "${PEER_ADDR[$p]}/32" match ip sport "$PORT" 0xffff flowid 1:$cls || return 1
    cls=$((cls + 1))
  done
}

port_free() { [[ -z $(ss -Hltn "( sport = :$1 )" 2>/dev/null) ]]; }
for ((try = 0; try < 20; try++)); do
  PORT=$((20000 + RANDOM % 12000))
  port_free "$PORT" || continue
  # shellcheck disable=SC2086 # a list of peer names
  write_conf main $NGX_MAIN_PEERS
  write_conf victim $NGX_VICTIM_PEERS
  if start_nginx main; then
    start_nginx victim && break
    stop_nginx main
  fi
  PORT=0
done
((PORT)) || die "could not start nginx on a free port (see $W/ngx-*/error.log)"
if [[ $SHAPER == tc ]]; then
  setup_tc || die "tc failed (a kernel without htb or u32?); use --shaper nginx"
fi
log "nginx peers on port $PORT (main pid ${NGX_PID[main]}, victim pid ${NGX_PID[victim]})"
url() { echo "http://${PEER_ADDR[$1]}:$PORT"; }

# ---- Measuring --------------------------------------------------------------
# Access-log marks, to attribute requests and bytes to one run.
declare -A LOGMARK=()
log_mark() {
  local n
  for n in main victim; do
    LOGMARK[$n]=$(wc -l <"$W/ngx-$n/access.log" 2>/dev/null || echo 0)
  done
}
log_since() { # the access-log lines written since log_mark
  local n
  for n in main victim; do
    [[ -f $W/ngx-$n/access.log ]] && tail -n +"$((LOGMARK[$n] + 1))" "$W/ngx-$n/access.log"
  done
  return 0
}
# "p1:3req/64.0MiB/3.20s p2:..." from the lines since the mark (GET and HEAD,
# any status): requests, bytes sent, seconds of request_time, per peer.
log_summary() {
  log_since | awk -v addrs="$(for p in "${!PEER_ADDR[@]}"; do printf '%s=%s ' "${PEER_ADDR[$p]}" "$p"; done)" '
    BEGIN { n = split(addrs, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, "="); name[kv[1]] = kv[2] } }
    $4 ~ /^[0-9]+$/ { k = name[$1]; req[k]++; b[k] += $4; busy[k] += $5; if ($3 !~ /^(200|206)$/) bad[k] = bad[k] " " $3 }
    END { for (k in req) printf "%s:%dreq/%.1fMiB/%.2fs%s\n", k, req[k], b[k] / 1048576, busy[k], (bad[k] ? "(status" bad[k] ")" : "") }' |
    sort | tr '\n' ' '
}
# seconds from the run's start (arg) to the end of the last logged response
last_served() {
  log_since | awk -v t0="$1" '$6 ~ /^[0-9.]+$/ && $6 > m { m = $6 } END { if (m) printf "%.2f", m - t0; else print "?" }'
}
nginx_cpu() { # clock ticks used by the running nginx processes
  local n t=0 s
  for n in "${!NGX_PID[@]}"; do
    s=$(awk '{print $14 + $15}' "/proc/${NGX_PID[$n]}/stat" 2>/dev/null || echo 0)
    t=$((t + s))
  done
  echo "$t"
}
TICKS=$(getconf CLK_TCK)
# busy ticks of the whole machine (all CPUs) so far, from /proc/stat
machine_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# run_tool TAG CMD...: runs CMD under /usr/bin/time; stdout/stderr in
# RUNS/TAG.{out,err}; writes "wall_s maxrss_kib cpu_s rc" to RUNS/TAG.res.
run_tool() {
  local tag=$1; shift
  local t0 t1 rc=0 line
  ((VERBOSE)) && log "run $tag: $*"
  t0=$(date +%s.%N)
  /usr/bin/time -f '%e %M %U %S' -o "$RUNS/$tag.time" "$@" >"$RUNS/$tag.out" 2>"$RUNS/$tag.err" || rc=$?
  t1=$(date +%s.%N)
  line=$(tail -n 1 "$RUNS/$tag.time" 2>/dev/null || true)
  awk -v a="$t0" -v b="$t1" -v l="$line" -v rc="$rc" \
    'BEGIN { split(l, f, " "); printf "%.3f %d %.2f %d %.3f\n", b - a, f[2], f[3] + f[4], rc, a }' >"$RUNS/$tag.res"
}
# R_WALL R_RSS (KiB) R_CPU R_RC of a finished run
load_res() { read -r R_WALL R_RSS R_CPU R_RC R_T0 <"$RUNS/$1.res"; }

ours_cmd() { # label out_file urls... -> OURS_CMD array
  local label=$1 out=$2; shift 2
  OURS_CMD=("$HOSTSIM" fetch --plugin "$PLUGIN" --block "${FID[$label]}"
    --sha256 "${FSHA[$label]}" --size "${FSIZE[$label]}" --json -q
    --set "staging_dir=$STAGE")
  [[ $out == - ]] || OURS_CMD+=(--out "$out") # "-": verified, then discarded
  local u
  for u in "$@"; do OURS_CMD+=(--source "$u"); done
  OURS_CMD+=("${EXTRA_SET[@]}")
}
aria_cmd() { # label out_file urls... -> ARIA_CMD array
  local label=$1 out=$2; shift 2
  ARIA_CMD=(aria2c --no-conf=true -q --allow-overwrite=true --auto-file-renaming=false
    --file-allocation=none -x1 -s"$#" --min-split-size=1M
    --checksum="sha-256=${FSHA[$label]}" -d "$(dirname "$out")" -o "$(basename "$out")")
  local u
  for u in "$@"; do ARIA_CMD+=("$u/${FID[$label]}"); done
}
json_num() { { grep -o "\"$2\":[0-9.]*" "$1" || true; } | head -n 1 | cut -d: -f2; }
file_ok() { # file label: the file has the label's digest
  [[ -f $1 ]] && [[ $(openssl dgst -sha256 -r "$1" | cut -c1-64) == "${FSHA[$2]}" ]]
}

# Results: VAL[key] = space-separated values over the repeats; FAILS[key] = count
declare -A VAL=() FAILS=()
add() { VAL[$1]="${VAL[$1]:-} $2"; }
fail() { FAILS[$1]=$((${FAILS[$1]:-0} + 1)); }
median() { # values... -> median, or empty
  (($#)) || return 0
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
med() { # key
  # shellcheck disable=SC2086
  median ${VAL[$1]:-}
}
detail() { DETAILS+=("$*"); ((VERBOSE)) && log "$*"; return 0; }
DETAILS=()

# measure KIND TAG LABEL OUTFILE [URL...]: one run of a tool, checked;
# records KEY.t (wall s), KEY.rss (MiB), KEY.cpu; KIND: ours | aria | curlsha | curlnull
# Returns 1 if the run failed (wrong digest, error).
measure() {
  local kind=$1 key=$2 label=$3 out=$4; shift 4
  local tag="$key.$((++RUN_NO))" srv0 srv1
  clean_out "$out"
  log_mark
  srv0=$(nginx_cpu) MB0=$(machine_busy)
  case $kind in
  ours)
    ours_cmd "$label" "$out" "$@"
    run_tool "$tag" "${OURS_CMD[@]}"
    ;;
  aria)
    aria_cmd "$label" "$out" "$@"
    run_tool "$tag" "${ARIA_CMD[@]}"
    ;;
  curlsha)
    run_tool "$tag" bash -c 'curl -sS -f -o "$1" "$2" && sha256sum "$1"' _ "$out" "$1/${FID[$label]}"
    ;;
  curlossl)
    run_tool "$tag" bash -c 'curl -sS -f -o "$1" "$2" && openssl dgst -sha256 -r "$1"' _ "$out" "$1/${FID[$label]}"
    ;;
  curlnull)
    run_tool "$tag" curl -sS -f -o /dev/null -w '%{size_download}\n' "$1/${FID[$label]}"
    ;;
  esac
  srv1=$(nginx_cpu) MB1=$(machine_busy)
  finish_measure "$kind" "$key" "$label" "$out" "$tag" "$srv0" "$srv1"
}
# The checks and records of one run (also used after a background run).
finish_measure() {
  local kind=$1 key=$2 label=$3 out=$4 tag=$5 srv0=$6 srv1=$7 ok=1 extra=""
  load_res "$tag"
  ((R_RC == 0)) || ok=0
  case $kind in
  ours)
    grep -q '"installed":true' "$RUNS/$tag.out" || ok=0
    grep -q "\"sha256\":\"${FSHA[$label]}\"" "$RUNS/$tag.out" || ok=0
    [[ $out == - ]] || file_ok "$out" "$label" || ok=0
    extra="fetched=$(json_num "$RUNS/$tag.out" bytes_fetched) plugin_s=$(json_num "$RUNS/$tag.out" seconds)"
    extra+=" banned=[$({ grep -o '"banned":\[[^]]*\]' "$RUNS/$tag.out" || true; } | { grep -o '"url":"[^"]*"' || true; } | cut -d'"' -f4 | tr '\n' ' ')]"
    add "$key.fetched" "$(json_num "$RUNS/$tag.out" bytes_fetched)"
    ;;
  aria) file_ok "$out" "$label" || ok=0 ;;
  curlsha | curlossl) [[ $(cut -c1-64 "$RUNS/$tag.out") == "${FSHA[$label]}" ]] || ok=0 ;;
  curlnull) [[ $(tail -n 1 "$RUNS/$tag.out") == "${FSIZE[$label]}" ]] || ok=0 ;;
  esac
  local peers
  peers=$(log_summary)
  detail "$tag: $([[ $ok == 1 ]] && echo ok || echo FAILED) wall=${R_WALL}s cpu=${R_CPU}s" \
    "rss=$((R_RSS / 1024))MiB nginx_cpu=$(awk -v a="$srv0" -v b="$srv1" -v t="$TICKS" 'BEGIN{printf "%.2f", (b-a)/t}')s" \
    "machine_cpu=$(awk -v a="$MB0" -v b="$MB1" -v t="$TICKS" 'BEGIN{printf "%.2f", (b-a)/t}')s" \
    "rc=$R_RC $extra last_byte_served=+$(last_served "$R_T0")s peers: $peers"
  clean_out "$out"
  if ((ok)); then
    add "$key.t" "$R_WALL"
    add "$key.rss" "$(awk -v k="$R_RSS" 'BEGIN{printf "%.1f", k/1024}')"
    add "$key.cpu" "$R_CPU"
    return 0
  fi
  fail "$key"
  log "FAILED: $tag (rc=$R_RC); stderr: $(tail -c 400 "$RUNS/$tag.err" | tr '\n' ' ')"
  return 1
}
RUN_NO=0
clean_out() { # removes a run's output (only below OUT) and the staging dir's files
  [[ $1 == "$OUT"/* ]] && rm -f "$1" "$1".* 2>/dev/null
  rm -rf "${STAGE:?}"/* 2>/dev/null
  sync # every run starts without dirty pages of the one before
  return 0
}

# measure_killed KIND KEY LABEL OUT URLS...: like measure, but the victim nginx
# (p4) is started fresh and SIGKILLed KILL_AT seconds after the tool started.
measure_killed() {
  local kind=$1 key=$2 label=$3 out=$4; shift 4
  local tag="$key.$((++RUN_NO))" srv0 srv1
  clean_out "$out"
  ensure_victim
  log_mark
  srv0=$(nginx_cpu) MB0=$(machine_busy)
  case $kind in
  ours) ours_cmd "$label" "$out" "$@"; run_tool "$tag" "${OURS_CMD[@]}" & ;;
  aria) aria_cmd "$label" "$out" "$@"; run_tool "$tag" "${ARIA_CMD[@]}" & ;;
  esac
  BG_PID=$!
  sleep "$KILL_AT"
  stop_nginx victim KILL
  wait "$BG_PID" || true
  BG_PID=""
  srv1=$(nginx_cpu) MB1=$(machine_busy)
  finish_measure "$kind" "$key" "$label" "$out" "$tag" "$srv0" "$srv1" || true
  ensure_victim
}

# ---- The benchmarks ---------------------------------------------------------
mib() { awk -v b="$1" 'BEGIN{printf "%g MiB", b/1048576}'; }
BOUND1=$(awk -v s="$S_PEERS" -v r="$RATE_BPS" 'BEGIN{printf "%.3f", s/(4*r)}')
KILL_AT=$(awk -v b="$BOUND1" 'BEGIN{printf "%.3f", b/2}')
P4=("$(url p1)" "$(url p2)" "$(url p3)" "$(url p4)")
P3=("$(url p1)" "$(url p2)" "$(url p3)")
U4=("$(url u1)" "$(url u2)" "$(url u3)" "$(url u4)")

T_START=$(date +%s) LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= REPEAT; r++)); do
  if want 1; then
    log "1: 4 peers x $RATE_MIB MiB/s, $(mib "$S_PEERS") (repeat $r/$REPEAT)"
    ensure_victim
    ((OURS_OK)) && { measure ours b1.ours peers "$OUT/b1.bin" "${P4[@]}" || true; }
    ((OURS_OK)) && { measure ours b1.oursnoout peers - "${P4[@]}" || true; }
    measure aria b1.aria peers "$OUT/b1.bin" "${P4[@]}" || true
    measure curlsha b1.curl peers "$OUT/b1.bin" "$(url p1)" || true
  fi
  if want 2; then
    log "2: 1 unlimited source, $(mib "$S_UNLIM") (repeat $r/$REPEAT)"
    ((OURS_OK)) && { measure ours b2.ours unlim "$OUT/b2.bin" "$(url u1)" || true; }
    ((OURS_OK)) && { measure ours b2.oursnoout unlim - "$(url u1)" || true; }
    measure curlsha b2.curlsha unlim "$OUT/b2.bin" "$(url u1)" || true
    measure curlossl b2.curlossl unlim "$OUT/b2.bin" "$(url u1)" || true
    measure curlnull b2.curlnull unlim /dev/null "$(url u1)" || true
  fi
  if want 3; then
    log "3: peak RSS, $(mib "$S_RSS") from 4 unlimited peers (repeat $r/$REPEAT)"
    ((OURS_OK)) && { measure ours b3.ours rss "$OUT/b3.bin" "${U4[@]}" || true; }
    measure aria b3.aria rss "$OUT/b3.bin" "${U4[@]}" || true
    measure curlsha b3.curl rss "$OUT/b3.bin" "$(url u1)" || true
  fi
  if want 4; then
    log "4: 4 peers, p4 killed after ${KILL_AT}s (repeat $r/$REPEAT)"
    if ((OURS_OK)); then
      want 1 || { measure ours b1.ours peers "$OUT/b4.bin" "${P4[@]}" || true; }
      measure_killed ours b4.ours peers "$OUT/b4.bin" "${P4[@]}"
    fi
    want 1 || { measure aria b1.aria peers "$OUT/b4.bin" "${P4[@]}" || true; }
    measure_killed aria b4.aria peers "$OUT/b4.bin" "${P4[@]}"
  fi
  if want 5; then
    log "5: 3 fast peers + 1 at $SLOW_KIB KiB/s vs the 3 alone (repeat $r/$REPEAT)"
    if ((OURS_OK)); then
      measure ours b5.ours3 peers "$OUT/b5.bin" "${P3[@]}" || true
      measure ours b5.ours4 peers "$OUT/b5.bin" "${P3[@]}" "$(url slow)" || true
    fi
    measure aria b5.aria3 peers "$OUT/b5.bin" "${P3[@]}" || true
    measure aria b5.aria4 peers "$OUT/b5.bin" "${P3[@]}" "$(url slow)" || true
  fi
done
T_END=$(date +%s)

# ---- Report -----------------------------------------------------------------
fmt() { [[ -n $1 ]] && awk -v v="$1" -v u="$2" 'BEGIN{printf "%.2f%s", v, u}' || echo "n/a"; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }' || echo "n/a"; }
met() { # value op limit
  [[ $1 == n/a || -z $1 ]] && { echo "n/a"; return; }
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN{ ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "yes" : "**no**" }'
}
failnote() { local f="" k; for k in "$@"; do ((${FAILS[$k]:-0})) && f+=" $k failed ${FAILS[$k]}x;"; done; echo "$f"; }

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); }
S1=$(mib "$S_PEERS")
if want 1; then
  o=$(med b1.ours.t) a=$(med b1.aria.t) c=$(med b1.curl.t)
  rr=$(ratio "$o" "$a")
  row "1. 4 peers x $RATE_MIB MiB/s, $S1, SHA-256: ours vs aria2c -x1 -s4 --checksum" \
    "$(fmt "$o" " s")" "$(fmt "$a" " s")" "$rr" "<= 0.90" "$(met "$rr" '<=' 0.90)"
  rr=$(ratio "$o" "$BOUND1")
  row "1. same: ours vs the bandwidth bound ($S1 / $((4 * RATE_MIB)) MiB/s)" \
    "$(fmt "$o" " s")" "$(fmt "$BOUND1" " s")" "$rr" "<= 1.10" "$(met "$rr" '<=' 1.10)"
  n=$(med b1.oursnoout.t)
  row "1. same, for information: ours without --out (verified, not written) vs the bound" \
    "$(fmt "$n" " s")" "$(fmt "$BOUND1" " s")" "$(ratio "$n" "$BOUND1")" "(info)" "-"
  rr=$(ratio "$o" "$c")
  row "1. same: ours vs curl from one peer + sha256sum" \
    "$(fmt "$o" " s")" "$(fmt "$c" " s")" "$rr" "(info)" "-"
fi
if want 2; then
  o=$(med b2.ours.t) c=$(med b2.curlsha.t) n=$(med b2.curlnull.t)
  rr=$(ratio "$o" "$c")
  row "2. 1 unlimited source, $(mib "$S_UNLIM"): ours vs curl -o file && sha256sum file" \
    "$(fmt "$o" " s")" "$(fmt "$c" " s")" "$rr" "<= 0.50" "$(met "$rr" '<=' 0.50)"
  rr=$(ratio "$o" "$n")
  row "2. same: ours vs curl -o /dev/null (the transfer alone)" \
    "$(fmt "$o" " s")" "$(fmt "$n" " s")" "$rr" "<= 1.50" "$(met "$rr" '<=' 1.50)"
  c=$(med b2.curlossl.t)
  row "2. same, for information: ours vs curl -o file && openssl dgst -sha256 file (SHA-NI)" \
    "$(fmt "$o" " s")" "$(fmt "$c" " s")" "$(ratio "$o" "$c")" "(info)" "-"
  o=$(med b2.oursnoout.t)
  row "2. same, for information: ours without --out (verified, not written: no copy, no fsync) vs curl -o /dev/null" \
    "$(fmt "$o" " s")" "$(fmt "$n" " s")" "$(ratio "$o" "$n")" "(info)" "-"
fi
if want 3; then
  o=$(med b3.ours.rss) a=$(med b3.aria.rss) c=$(med b3.curl.rss)
  row "3. peak RSS fetching $(mib "$S_RSS") (4 unlimited peers); baseline: aria2c" \
    "$(fmt "$o" " MiB")" "$(fmt "$a" " MiB")" "$(ratio "$o" "$a")" "<= 32 MiB" "$(met "${o:-n/a}" '<=' 32)"
fi
if want 4; then
  f=$(med b4.ours.fetched)
  rr=$(ratio "$f" "$S_PEERS")
  row "4. p4 of 4 killed at ${KILL_AT} s: bytes fetched / size" \
    "$([[ -n $f ]] && echo "$f B" || echo n/a)" "$S_PEERS B" "$rr" "<= 1.05" "$(met "$rr" '<=' 1.05)"
  o=$(med b4.ours.t) b=$(med b1.ours.t)
  rr=$(ratio "$o" "$b")
  row "4. same: time vs ours fault-free (benchmark 1)" \
    "$(fmt "$o" " s")" "$(fmt "$b" " s")" "$rr" "<= 1.30" "$(met "$rr" '<=' 1.30)"
  o=$(med b4.aria.t) b=$(med b1.aria.t)
  row "4. same, for information: aria2c killed vs aria2c fault-free" \
    "$(fmt "$o" " s")" "$(fmt "$b" " s")" "$(ratio "$o" "$b")" "(info)" "-"
fi
if want 5; then
  o=$(med b5.ours4.t) b=$(med b5.ours3.t)
  rr=$(ratio "$o" "$b")
  row "5. 3 peers x $RATE_MIB MiB/s + 1 at $SLOW_KIB KiB/s vs the 3 alone, $S1 (ours)" \
    "$(fmt "$o" " s")" "$(fmt "$b" " s")" "$rr" "<= 1.15" "$(met "$rr" '<=' 1.15)"
  o=$(med b5.aria4.t) b=$(med b5.aria3.t)
  row "5. same, for information: aria2c" \
    "$(fmt "$o" " s")" "$(fmt "$b" " s")" "$(ratio "$o" "$b")" "(info)" "-"
fi

report() {
  echo "## sss bench: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`$CMDLINE\` ($((T_END - T_START)) s of measuring; $REPEAT run(s) each, median)."
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r);"
  echo "$(curl --version | head -n 1 | cut -d' ' -f1-2), $(aria2c --version | head -n 1), $("$NGINX" -v 2>&1 | sed 's/.*version: //');"
  echo "Measured: $BUILD_DIR, built from $GIT_REV."
  echo "Shaper: $SHAPER. Sizes: $(mib "$S_PEERS") (benchmarks 1, 4, 5), $(mib "$S_UNLIM") (2), $(mib "$S_RSS") (3)."
  ((QUICK)) && echo "**--quick**: small files and rates; the numbers only show that everything runs."
  ((OURS_OK)) || echo "**ours not measured**: $OURS_WHY."
  echo
  echo "| benchmark | ours | baseline | ratio | goal | met? |"
  echo "| --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${ROWS[@]}"
  echo
  local fails k
  fails=$(failnote "${!FAILS[@]}")
  [[ -n $fails ]] && echo "Failed runs (not in the medians):$fails" && echo
  echo "Medians of client CPU (user+sys) and peak RSS:"
  echo
  for k in $(printf '%s\n' "${!VAL[@]}" | grep '\.t$' | sed 's/\.t$//' | sort); do
    echo "- $k: wall $(fmt "$(med "$k.t")" " s"), cpu $(fmt "$(med "$k.cpu")" " s"), rss $(fmt "$(med "$k.rss")" " MiB")$([[ -n ${VAL[$k.fetched]:-} ]] && echo ", bytes fetched $(med "$k.fetched")")"
  done
  echo
  echo "Notes: peers on 127.0.0.11-14 ($RATE_MIB MiB/s each), 127.0.0.15 ($SLOW_KIB KiB/s), 127.0.0.21-24 (unlimited),"
  echo "one connection per client and peer (limit_conn 1). Kill in benchmark 4: SIGKILL of p4's nginx ${KILL_AT} s after the start."
  if [[ $SHAPER == nginx ]]; then
    echo "Shaper: nginx limit_rate (limit_rate_after 0). It grants each request rate x (whole seconds elapsed + 1),"
    echo "so every request may start with up to one second's worth at full speed: the bandwidth bound is approximate"
    echo "and a tool's time depends on where in a second its requests start; see the requests per peer below."
  else
    echo "Shaper: tc htb class (token bucket, burst 128 KiB) per peer address on the loopback of a private network"
    echo "namespace (unshare --net), under nginx's limit_rate. A peer's rate is shared by all its connections."
  fi
  echo
  echo "Load average: $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on the machine shares its $(nproc) cores)."
  echo
  echo "Every run below: wall and CPU time of the client, its peak RSS, nginx's CPU time, the whole machine's"
  echo "busy CPU time during the run (machine_cpu; beyond client + nginx it is the kernel's writeback and any"
  echo "other work on the machine), and per peer"
  echo "requests/bytes sent/seconds spent serving (nginx's request_time summed) from the access logs;"
  echo "requests cut by a kill are not logged; last_byte_served: when nginx handed the last byte of the last"
  echo "logged response to the kernel, in seconds after the tool started (what follows is the tool's own work:"
  echo "verifying, installing, exiting)."
  echo
  echo "<details><summary>Every run</summary>"
  echo
  echo '```'
  printf '%s\n' "${DETAILS[@]}"
  echo '```'
  echo
  echo "</details>"
}
report | tee ${MD_FILE:+"$MD_FILE"}
