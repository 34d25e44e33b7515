# Shared by .ci/serve, .ci/test and .ci/run: install what is missing, start what is down.
# Sourced, not run. Works as root or with sudo, on Debian and Ubuntu.

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=""

# ensure_packages PKG… — apt-get install the packages that are not installed yet.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build needs: a C compiler (bundled SQLite, aws-lc), pkg-config, and for the photo reader
# libtesseract with its English model (bindgen needs libclang to read its headers).
ensure_build_packages() {
    ensure_packages gcc libc6-dev pkg-config ca-certificates \
        libtesseract-dev libleptonica-dev libclang-dev tesseract-ocr-eng
}

# start_postgres — makes PRINTYX_TEST_POSTGRES_URL point at a PostgreSQL server where the user
# `postgres` connects over TCP without a password: the machine's own on 127.0.0.1:5432 (started
# if it is down), or else a private throwaway cluster on a free port, stopped on exit.
start_postgres() {
    ensure_packages postgresql postgresql-client
    local url="postgres://postgres@127.0.0.1:5432/postgres"
    if [ -n "${PRINTYX_TEST_POSTGRES_URL:-}" ]; then return 0; fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        local version
        version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
        if [ -n "$version" ]; then
            echo "starting PostgreSQL $version"
            $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
            for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
        fi
    fi
    if PGCONNECT_TIMEOUT=5 psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1 \
        && [ "$(psql "$url" -Atqc 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" = "t" ]; then
        export PRINTYX_TEST_POSTGRES_URL="$url"
        return 0
    fi
    echo "PostgreSQL on 127.0.0.1:5432 is not usable as postgres without a password: starting a private one"
    start_private_postgres
}

# start_private_postgres — a throwaway cluster (trust auth) on a free port, stopped on exit.
start_private_postgres() {
    local bindir port dir
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    dir=$(mktemp -d /tmp/printyx-pg.XXXXXX)
    local as=()
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
    "${as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
    "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
    PRIVATE_PG=("${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop)
    PRIVATE_PG_DIR="$dir"
    trap 'stop_private_postgres' EXIT
    export PRINTYX_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_private_postgres() {
    if [ -n "${PRIVATE_PG:-}" ]; then
        "${PRIVATE_PG[@]}" >/dev/null 2>&1 || true
        rm -rf "$PRIVATE_PG_DIR"
    fi
}

# start_mosquitto — the MQTT broker on 127.0.0.1:1883, started if it is not running.
start_mosquitto() {
    ensure_packages mosquitto
    if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
        echo "starting Mosquitto"
        $SUDO mosquitto -d -c /etc/mosquitto/mosquitto.conf
        for _ in $(seq 1 20); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.5; done
    fi
}

# ensure_python_peers — the test peers that come from PyPI, in one venv: snmpsim (serves the
# recorded printers to the agent's tests) and aiosmtpd (the SMTP server of the portal's mail
# tests); with net-snmp (snmpd, snmpget). Exports PRINTYX_SNMPSIM and PRINTYX_PEERS_PYTHON.
ensure_python_peers() {
    ensure_packages snmpd snmp python3-venv
    local venv=/var/tmp/printyx-peers
    if [ ! -x "$venv/bin/snmpsim-command-responder" ] || [ ! -f "$venv/.aiosmtpd-1.4.6" ]; then
        echo "installing snmpsim and aiosmtpd into $venv"
        rm -rf "$venv"
        /usr/bin/python3 -m venv "$venv"
        "$venv/bin/pip" install -q snmpsim==1.2.2 pysmi==2.0.0 pysnmp==7.1.30 aiosmtpd==1.4.6
        touch "$venv/.aiosmtpd-1.4.6"
    fi
    export PRINTYX_SNMPSIM="$venv/bin/snmpsim-command-responder"
    export PRINTYX_PEERS_PYTHON="$venv/bin/python"
}
