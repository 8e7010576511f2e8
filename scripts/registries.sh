#!/usr/bin/env bash
# Local package registries for Shiplane's tests and CI: real servers on 127.0.0.1.
#
#   scripts/registries.sh up [cargo] [python] [npm] [--state DIR] [--owner PID]
#   scripts/registries.sh env|status|down [cargo] [python] [npm] [--state DIR]
#
#   cargo   cargo-http-registry (publish API, downloads) + scripts/registries/sparse_index.py
#           (its index directory served as a sparse index)
#   python  pypiserver with upload auth; twine and build in the same venv
#   npm     verdaccio 6.8.0, no uplinks
#
# `up` installs what is missing into ${SHIPLANE_CACHE:-$HOME/.cache/shiplane}/registries (once;
# later runs reuse it), starts the named registries (default: all three) in the background,
# waits until each answers and prints KEY=VALUE lines on stdout (also written to DIR/env).
# Everything else (progress, errors) goes to stderr. `down` stops only the processes that `up`
# recorded in DIR. `--owner PID`: also stop them when that process ends. Default DIR:
# target/registries in the repository. See docs/registries.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/registries.sh"
FILES="$ROOT/scripts/registries"
CACHE="${SHIPLANE_CACHE:-${HOME:?HOME is not set}/.cache/shiplane}/registries"

CHR_VERSION=0.1.8
VERDACCIO_VERSION=6.8.0
CARGO_REGISTRY_NAME=shiplane-local
CARGO_TOKEN_VAR=CARGO_REGISTRIES_SHIPLANE_LOCAL_TOKEN
PYPI_USER=shiplane
NPM_USER=shiplane
READY_TIMEOUT=${SHIPLANE_REG_READY_TIMEOUT:-60}
ALL=(cargo python npm)

say() { printf 'registries: %s\n' "$*" >&2; }
die() {
    printf 'registries: error: %s\n' "$*" >&2
    exit 1
}

usage() { # [EXIT_CODE]: on stdout for --help (0), else on stderr
    if [[ ${1:-2} == 0 ]]; then
        sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//'
    else
        sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "${1:-2}"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

free_port() {
    "$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------------
# Processes: each pid file holds "PID STARTTIME MARKER" (STARTTIME: field 22 of /proc/PID/stat,
# fixed for the life of a process); a recorded process is ours while that still matches and its
# command line still contains MARKER. A zombie counts as gone.

proc_start() { # PID -> start time, or nothing
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    set -- $stat
    [[ $1 == Z || $1 == X ]] && return 0
    echo "${20}"
}

is_alive() { # PIDFILE: the recorded process still runs (same PID, same start time)
    local pid start
    [[ -f $1 ]] || return 1
    read -r pid start _ <"$1" || return 1
    [[ -n $pid && -n $start && $(proc_start "$pid") == "$start" ]]
}

is_ours() { # PIDFILE: alive, and its command line still has the recorded marker
    local pid start marker cmdline
    is_alive "$1" || return 1
    read -r pid start marker <"$1"
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$marker"* ]]
}

# spawn PIDFILE LOGFILE MARKER CMD... : start CMD in the background, detached from our stdio.
# MARKER: a string its command line keeps (verdaccio renames itself, so it cannot be the state
# directory there).
spawn() {
    local pidfile=$1 log=$2 marker=$3
    shift 3
    "$@" </dev/null >>"$log" 2>&1 9>&- &
    local pid=$! start=""
    for _ in 1 2 3 4 5; do
        start=$(proc_start "$pid")
        [[ -n $start ]] && break
        sleep 0.01
    done
    echo "$pid ${start:-0} $marker" >"$pidfile"
    STARTED+=("$pidfile")
}

# stop PIDFILE... : TERM those still ours, wait (10 s) then KILL, remove the pid files.
stop() {
    local f pid live=()
    for f in "$@"; do
        [[ -f $f ]] || continue
        if is_ours "$f"; then
            read -r pid _ <"$f"
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$f")
        fi
    done
    local deadline=$((SECONDS + 10)) left killed=0
    while ((${#live[@]})); do
        left=()
        for f in "${live[@]}"; do
            is_alive "$f" && left+=("$f")
        done
        ((${#left[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            if ((killed)); then
                say "error: still running after KILL: ${left[*]}"
                return 1
            fi
            killed=1
            for f in "${left[@]}"; do
                read -r pid _ <"$f"
                say "$(basename "$f" .pid) (pid $pid) ignored TERM; sending KILL"
                kill -KILL "$pid" 2>/dev/null || true
            done
            deadline=$((SECONDS + 5))
        fi
        sleep 0.1
    done
    for f in "$@"; do
        [[ -f $f ]] || continue
        read -r pid _ <"$f" || true
        if [[ " ${live[*]+"${live[*]}"} " == *" $f "* ]]; then
            say "stopped $(basename "$f" .pid) (pid ${pid:-?})"
        else
            say "$(basename "$f" .pid) (pid ${pid:-?}) was not running"
        fi
        rm -f "$f"
    done
}

# owns_port PID PORT : the process has a socket listening on PORT (its own, not another's).
owns_port() {
    local hex inodes sl addr rem st inode rest
    hex=$(printf '%04X' "$2")
    inodes=" $(find "/proc/$1/fd" -lname 'socket:*' -printf '%l ' 2>/dev/null | tr -dc '0-9 ') "
    while read -r sl addr rem st _ _ _ _ _ inode rest; do
        [[ $st == 0A && $addr == *":$hex" && $inodes == *" $inode "* ]] && return 0
    done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    return 1
}

# wait_ready NAME URL PORT PIDFILE LOG : poll URL until it answers 2xx from the recorded
# process (with free ports picked by several runs at once, a port could be another's); fail if
# the process died or the time is up.
wait_ready() {
    local name=$1 url=$2 port=$3 pidfile=$4 log=$5 deadline=$((SECONDS + READY_TIMEOUT)) pid
    read -r pid _ <"$pidfile"
    while :; do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && owns_port "$pid" "$port"; then
            return 0
        fi
        if ! is_alive "$pidfile"; then
            READY_ERROR="$name exited before answering on $url; log: $log"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            READY_ERROR="$name did not answer on $url within ${READY_TIMEOUT}s; log: $log"
            return 1
        fi
        sleep 0.1
    done
}

fail_start() { # LOG : report READY_ERROR with the log's tail, stop what this run started
    say "error: $READY_ERROR"
    if [[ -f $1 ]]; then
        say "last lines of $1:"
        tail -n 25 "$1" | sed 's/^/    /' >&2
    fi
    stop "${STARTED[@]+"${STARTED[@]}"}"
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Installation into the cache. Each tool has its own lock (parallel `up`s wait for one
# install) and a marker written last (an interrupted install is redone).

locked_install() { # NAME DIR FUNCTION
    local name=$1 dir=$2 fn=$3
    [[ -f $dir/.shiplane-complete ]] && return 0
    mkdir -p "$CACHE/logs"
    local log="$CACHE/logs/install-$name.log"
    (
        exec 9>"$CACHE/.lock-$name"
        if ! flock -n 9; then
            say "waiting for another install of $name (lock $CACHE/.lock-$name)"
            flock 9
        fi
        [[ -f $dir/.shiplane-complete ]] && exit 0
        say "installing $name into $dir (log: $log)"
        local t0
        t0=$(now)
        rm -rf "$dir"
        if ! "$fn" "$dir" >"$log" 2>&1 9>&-; then
            say "error: installing $name failed; last lines of $log:"
            tail -n 30 "$log" | sed 's/^/    /' >&2
            exit 1
        fi
        touch "$dir/.shiplane-complete"
        say "installed $name in $(since "$t0") s"
    )
}

# The install functions run in an `if` (where `set -e` is off): every step checks itself.
install_chr() {
    local dir=$1 build="$CACHE/.build-cargo-http-registry"
    rm -rf "$build"
    # Our own target dir: never the caller's (a test run may have CARGO_TARGET_DIR set).
    env -u CARGO_BUILD_TARGET_DIR CARGO_TARGET_DIR="$build" \
        cargo install --locked --version "=$CHR_VERSION" --root "$dir" cargo-http-registry ||
        return 1
    rm -rf "$build"
    [[ -x $dir/bin/cargo-http-registry ]]
}

install_python() {
    local dir=$1
    python3 -m venv "$dir" || return 1
    PIP_FIND_LINKS= "$dir/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
        -r "$FILES/requirements.txt" || return 1
    "$dir/bin/python" -c 'import build, passlib, pypiserver, setuptools, twine'
}

install_verdaccio() {
    local dir=$1
    mkdir -p "$dir" || return 1
    cp "$FILES/verdaccio/package.json" "$FILES/verdaccio/package-lock.json" "$dir/" || return 1
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts) || return 1
    node "$dir/node_modules/verdaccio/bin/verdaccio" --version
}

content_key() { cat "$@" | sha256sum | cut -c1-12; }

install_for() { # REGISTRY
    case $1 in
    cargo) locked_install cargo-http-registry "$CHR_DIR" install_chr ;;
    python) locked_install python "$PY_DIR" install_python ;;
    npm) locked_install verdaccio "$VERDACCIO_DIR" install_verdaccio ;;
    esac
}

CHR_DIR="$CACHE/cargo-http-registry-$CHR_VERSION"
PY_DIR="$CACHE/python-$(content_key "$FILES/requirements.txt")"
VERDACCIO_DIR="$CACHE/verdaccio-$VERDACCIO_VERSION-$(content_key "$FILES/verdaccio/package.json" "$FILES/verdaccio/package-lock.json")"

# ---------------------------------------------------------------------------------------------
# The registries. Each writes DIR/<registry>/env with its lines and DIR/<registry>/*.pid.

pidfiles_of() { # REGISTRY -> one path per line
    case $1 in
    cargo) printf '%s\n' "$STATE/cargo/cargo-http-registry.pid" "$STATE/cargo/sparse-index.pid" ;;
    python) printf '%s\n' "$STATE/python/pypiserver.pid" ;;
    npm) printf '%s\n' "$STATE/npm/verdaccio.pid" ;;
    esac
}

is_up() { # REGISTRY: all its processes are running
    local f files
    [[ -f $STATE/$1/env ]] || return 1
    mapfile -t files < <(pidfiles_of "$1")
    for f in "${files[@]}"; do
        is_ours "$f" || return 1
    done
}

# port ENV_VAR : the override, or a free port
port() {
    local v=${!1:-}
    if [[ -n $v ]]; then
        [[ $v =~ ^[0-9]+$ ]] || die "$1=$v is not a port number"
        echo "$v"
    else
        free_port
    fi
}

# Retry a start with fresh ports when a picked port was taken in the meantime.
attempts() { if [[ -n ${!1:-} ]]; then echo 1; else echo 3; fi; }

start_cargo() {
    local d="$STATE/cargo" home="$STATE/cargo-home"
    local index="$d/index" api_log="$d/cargo-http-registry.log" idx_log="$d/sparse-index.log"
    mkdir -p "$index" "$home"
    if [[ ! -d $index/.git ]]; then
        git init -q "$index"
        # cargo-http-registry commits each publish with libgit2, which needs an identity.
        git -C "$index" config user.name "Shiplane local registry"
        git -C "$index" config user.email "registry@localhost"
    fi
    local api_port idx_port n tries
    tries=$(attempts SHIPLANE_REG_CARGO_API_PORT)
    for ((n = 1; ; n++)); do
        api_port=$(port SHIPLANE_REG_CARGO_API_PORT)
        spawn "$d/cargo-http-registry.pid" "$api_log" "$index" \
            "$CHR_DIR/bin/cargo-http-registry" --addr "127.0.0.1:$api_port" "$index"
        wait_ready cargo-http-registry "http://127.0.0.1:$api_port/crates/config.json" \
            "$api_port" "$d/cargo-http-registry.pid" "$api_log" && break
        ((n < tries)) && ! is_alive "$d/cargo-http-registry.pid" && continue
        fail_start "$api_log"
    done
    tries=$(attempts SHIPLANE_REG_CARGO_PORT)
    for ((n = 1; ; n++)); do
        idx_port=$(port SHIPLANE_REG_CARGO_PORT)
        spawn "$d/sparse-index.pid" "$idx_log" "$index" \
            "$PYTHON3" "$FILES/sparse_index.py" --port "$idx_port" --dir "$index"
        wait_ready sparse-index "http://127.0.0.1:$idx_port/config.json" \
            "$idx_port" "$d/sparse-index.pid" "$idx_log" && break
        ((n < tries)) && ! is_alive "$d/sparse-index.pid" && continue
        fail_start "$idx_log"
    done
    # The index's config.json must name this run's cargo-http-registry (it rewrites it on start).
    grep -q "127.0.0.1:$api_port" "$index/config.json" ||
        {
            READY_ERROR="$index/config.json does not point at 127.0.0.1:$api_port"
            fail_start "$api_log"
        }

    local token
    token=$(random_hex 16)
    cat >"$home/config.toml" <<EOF
# Written by scripts/registries.sh: the local registry, read through its sparse index.
[registries.$CARGO_REGISTRY_NAME]
index = "sparse+http://127.0.0.1:$idx_port/"
EOF
    cat >"$home/credentials.toml" <<EOF
[registries.$CARGO_REGISTRY_NAME]
token = "$token"
EOF
    chmod 600 "$home/credentials.toml"
    cat >"$d/env" <<EOF
SHIPLANE_REG_CARGO_NAME=$CARGO_REGISTRY_NAME
SHIPLANE_REG_CARGO_INDEX=sparse+http://127.0.0.1:$idx_port/
SHIPLANE_REG_CARGO_API=http://127.0.0.1:$api_port/
SHIPLANE_REG_CARGO_TOKEN=$token
SHIPLANE_REG_CARGO_TOKEN_VAR=$CARGO_TOKEN_VAR
SHIPLANE_REG_CARGO_HOME=$home
EOF
}

start_python() {
    local d="$STATE/python" log="$STATE/python/pypiserver.log"
    mkdir -p "$d/packages"
    local password
    password=$(random_hex 16)
    "$PY_DIR/bin/python" - "$d/htpasswd" "$PYPI_USER" "$password" <<'EOF'
import sys
from passlib.apache import HtpasswdFile

path, user, password = sys.argv[1:]
db = HtpasswdFile(path, new=True)
db.set_password(user, password)
db.save()
EOF
    local port n tries
    tries=$(attempts SHIPLANE_REG_PYPI_PORT)
    for ((n = 1; ; n++)); do
        port=$(port SHIPLANE_REG_PYPI_PORT)
        spawn "$d/pypiserver.pid" "$log" "$d/packages" \
            "$PY_DIR/bin/pypi-server" run -i 127.0.0.1 -p "$port" -a update -P "$d/htpasswd" \
            --disable-fallback --health-endpoint /health "$d/packages"
        wait_ready pypiserver "http://127.0.0.1:$port/health" "$port" "$d/pypiserver.pid" "$log" &&
            break
        ((n < tries)) && ! is_alive "$d/pypiserver.pid" && continue
        fail_start "$log"
    done
    cat >"$d/env" <<EOF
SHIPLANE_REG_PYPI_INDEX=http://127.0.0.1:$port/simple/
SHIPLANE_REG_PYPI_UPLOAD=http://127.0.0.1:$port/
SHIPLANE_REG_PYPI_USER=$PYPI_USER
SHIPLANE_REG_PYPI_PASSWORD=$password
SHIPLANE_REG_PYTHON=$PY_DIR/bin/python
EOF
}

start_npm() {
    local d="$STATE/npm" log="$STATE/npm/verdaccio.log"
    mkdir -p "$d/storage"
    local port n tries
    tries=$(attempts SHIPLANE_REG_NPM_PORT)
    for ((n = 1; ; n++)); do
        port=$(port SHIPLANE_REG_NPM_PORT)
        cat >"$d/config.yaml" <<EOF
# Written by scripts/registries.sh. No uplinks: this registry never reaches out.
storage: $d/storage
web:
  enable: false
auth:
  htpasswd:
    file: $d/htpasswd
    max_users: 1
uplinks: {}
packages:
  '@*/*':
    access: \$all
    publish: \$authenticated
    unpublish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
    unpublish: \$authenticated
server:
  keepAliveTimeout: 60
middlewares:
  audit:
    enabled: false
log:
  type: stdout
  format: pretty
  level: http
listen: 127.0.0.1:$port
EOF
        spawn "$d/verdaccio.pid" "$log" verdaccio \
            node "$VERDACCIO_DIR/node_modules/verdaccio/bin/verdaccio" --config "$d/config.yaml"
        wait_ready verdaccio "http://127.0.0.1:$port/-/ping" "$port" "$d/verdaccio.pid" "$log" &&
            break
        ((n < tries)) && ! is_alive "$d/verdaccio.pid" && continue
        fail_start "$log"
    done

    # A user and its token, without prompts: 201 when created; 409 when it exists (a restart
    # on the same state), then the same request with basic auth logs in.
    local password url="http://127.0.0.1:$port/-/user/org.couchdb.user:$NPM_USER" body token
    if [[ -f $d/password ]]; then password=$(cat "$d/password"); else
        password=$(random_hex 16)
        (umask 077 && echo "$password" >"$d/password")
    fi
    body=$(printf '{"name":"%s","password":"%s"}' "$NPM_USER" "$password")
    local answer code
    answer=$(curl -sS --max-time 10 -X PUT -H 'content-type: application/json' -d "$body" \
        -w '\n%{http_code}' "$url") || true
    code=${answer##*$'\n'}
    if [[ $code == 409 ]]; then
        answer=$(curl -sS --max-time 10 -X PUT -u "$NPM_USER:$password" \
            -H 'content-type: application/json' -d "$body" -w '\n%{http_code}' "$url") || true
        code=${answer##*$'\n'}
    fi
    token=$(printf '%s' "${answer%$'\n'*}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get("token", ""))' 2>/dev/null) || true
    if [[ $code != 201 || -z $token ]]; then
        READY_ERROR="verdaccio: creating user $NPM_USER failed (HTTP $code): ${answer%$'\n'*}"
        fail_start "$log"
    fi
    (umask 077 && printf 'registry=http://127.0.0.1:%s/\n//127.0.0.1:%s/:_authToken=%s\n' \
        "$port" "$port" "$token" >"$d/npmrc")
    cat >"$d/env" <<EOF
SHIPLANE_REG_NPM_URL=http://127.0.0.1:$port/
SHIPLANE_REG_NPM_USER=$NPM_USER
SHIPLANE_REG_NPM_TOKEN=$token
SHIPLANE_REG_NPM_USERCONFIG=$d/npmrc
EOF
}

# The env lines of the registries that are up, also written to DIR/env.
print_env() {
    local r out="SHIPLANE_REG_STATE=$STATE" any=0
    for r in "${ALL[@]}"; do
        if is_up "$r"; then
            out+=$'\n'$(cat "$STATE/$r/env")
            any=1
        fi
    done
    if ((any)); then
        printf '%s\n' "$out" >"$STATE/env"
        printf '%s\n' "$out"
    else
        rm -f "$STATE/env"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# The owner watch: `up --owner PID` leaves a small process that runs `down` once PID is gone
# (a test process killed before its cleanup ran).

watch_owner() { # OWNER_PID OWNER_START
    local tick
    # A pipe nobody writes to: `read -t 1` on it sleeps without starting a process each second.
    exec {tick}<> <(:)
    while [[ $(proc_start "$1") == "$2" ]]; do
        read -r -t 1 -u "$tick" _ || true
    done
    rm -f "$STATE/owner-watch.pid"
    exec bash "$SELF" down --state "$STATE"
}

# ---------------------------------------------------------------------------------------------

# All of the work happens in main, called on the file's last line: bash has then read the whole
# script before running any of it, so editing the file cannot disturb a run in progress.
main() {
    CMD=${1:-}
    [[ -n $CMD ]] || usage
    shift
    case $CMD in -h | --help | help) usage 0 ;; esac
    if [[ $CMD == __watch ]]; then # internal: __watch STATE OWNER_PID OWNER_START
        STATE=$1
        watch_owner "$2" "$3"
        exit 0
    fi
    STATE=""
    OWNER=""
    WHICH=()
    while (($#)); do
        case $1 in
        --state) STATE=${2:?--state needs a directory}; shift 2 ;;
        --state=*) STATE=${1#--state=}; shift ;;
        --owner) OWNER=${2:?--owner needs a PID}; shift 2 ;;
        --owner=*) OWNER=${1#--owner=}; shift ;;
        cargo | crates) WHICH+=(cargo); shift ;;
        python | pypi) WHICH+=(python); shift ;;
        npm) WHICH+=(npm); shift ;;
        -h | --help) usage 0 ;;
        *) die "unknown argument: $1 (registries: cargo, python, npm)" ;;
        esac
    done
    ((${#WHICH[@]})) || WHICH=("${ALL[@]}")
    STATE=${STATE:-$ROOT/target/registries}
    [[ $CMD != up ]] || mkdir -p "$STATE"
    STATE=$(realpath -m "$STATE")
    STARTED=()

    case $CMD in
    up)
        for tool in python3 curl flock git; do
            command -v "$tool" >/dev/null || die "$tool is needed and was not found on PATH"
        done
        # The real interpreter, not a version manager's shim: faster, and the PID we record is
        # the server's from the start.
        PYTHON3=$(python3 -c 'import sys; print(sys.executable)')
        t_up=$(now)
        needed=()
        for r in "${WHICH[@]}"; do
            if is_up "$r"; then
                say "$r: already up in $STATE"
                continue
            fi
            case $r in
            cargo) command -v cargo >/dev/null || die "cargo is needed and was not found on PATH" ;;
            npm) command -v npm >/dev/null && command -v node >/dev/null ||
                die "node and npm are needed and were not found on PATH" ;;
            esac
            # Leftovers of a crashed run on this state: stop them first.
            mapfile -t files < <(pidfiles_of "$r")
            stop "${files[@]}"
            rm -f "$STATE/$r/env"
            needed+=("$r")
        done
        # The watch first, so that an owner killed during a long first install is covered too.
        owner_start=""
        if [[ -n $OWNER ]]; then
            owner_start=$(proc_start "$OWNER")
            [[ -n $owner_start ]] || die "--owner $OWNER: no such process"
        fi
        if [[ -n $OWNER ]] && ! is_ours "$STATE/owner-watch.pid"; then
            spawn "$STATE/owner-watch.pid" "$STATE/owner-watch.log" "$STATE" \
                bash "$SELF" __watch "$STATE" "$OWNER" "$owner_start"
        fi
        # Installs (first run only) side by side: the cargo build is the long one.
        installs=()
        for r in "${needed[@]+"${needed[@]}"}"; do
            install_for "$r" &
            installs+=($!)
        done
        failed=0
        for p in "${installs[@]+"${installs[@]}"}"; do
            wait "$p" || failed=1
        done
        if ((failed)); then
            stop "${STARTED[@]+"${STARTED[@]}"}"
            exit 1
        fi
        for r in "${needed[@]+"${needed[@]}"}"; do
            t0=$(now)
            "start_$r"
            say "$r: up in $(since "$t0") s"
        done
        if [[ -n $OWNER && $(proc_start "$OWNER") != "$owner_start" ]]; then
            say "error: the owner process $OWNER ended during up; stopping"
            stop "${STARTED[@]+"${STARTED[@]}"}"
            exit 1
        fi
        print_env
        say "all up in $(since "$t_up") s (state: $STATE)"
        ;;
    env)
        print_env || die "no registry is up in $STATE (run: $SELF up --state $STATE)"
        ;;
    status)
        rc=0
        for r in "${WHICH[@]}"; do
            if is_up "$r"; then
                printf '%s: up (%s)\n' "$r" "$(grep -E '_(INDEX|URL)=' "$STATE/$r/env" | head -n1 | cut -d= -f2-)"
            elif [[ -f $STATE/$r/env ]]; then
                printf '%s: broken (a process died; run down, then up)\n' "$r"
                rc=1
            else
                printf '%s: down\n' "$r"
                rc=1
            fi
        done
        exit "$rc"
        ;;
    down)
        files=()
        for r in "${WHICH[@]}"; do
            mapfile -t -O "${#files[@]}" files < <(pidfiles_of "$r")
        done
        stop "${files[@]}"
        for r in "${WHICH[@]}"; do rm -f "$STATE/$r/env"; done
        print_env >/dev/null || {
            # Nothing left: the owner watch has nothing to watch.
            stop "$STATE/owner-watch.pid"
            say "nothing running in $STATE"
        }
        ;;
    *) usage ;;
    esac
}

main "$@"
exit
