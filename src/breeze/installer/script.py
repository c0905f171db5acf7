"""The install script served at ``GET /api/v1/agents/install.sh`` (POSIX sh).

``curl -fsSL <server>/api/v1/agents/install.sh | sudo sh -s -- --key KEY`` creates a virtual
environment with the system python3 (>= 3.11), installs the agent and its dependencies from
wheels this server serves (sha256-checked, no package index), writes the config (0600),
enrolls, and installs and starts ``breeze-agent.service``. ``--uninstall`` undoes it.

Everything runs inside ``main`` (called on the last line) so a truncated download runs
nothing, and every child reads /dev/null so none of them eats the rest of a piped script.
"""

from __future__ import annotations

SCRIPT_MEDIA_TYPE = "text/x-shellscript"

_FETCH_PY = r"""
import hashlib, ipaddress, json, os, platform, ssl, sys, urllib.request
from urllib.parse import urlsplit
server, dest, ca, insecure = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
parts = urlsplit(server)
host = (parts.hostname or "").lower()
def loopback(h):
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False
if parts.scheme not in ("http", "https") or not host:
    sys.exit("error: server URL must be http(s)://host[:port], not %r" % server)
if parts.scheme == "http" and not insecure and not loopback(host):
    sys.exit("error: refusing plain http:// to %s; use https:// or pass --insecure" % host)
ctx = ssl.create_default_context(cafile=ca or None)
def get(path):
    with urllib.request.urlopen(server + path, context=ctx, timeout=120) as answer:
        return answer.read()
try:
    index = json.loads(get("/api/v1/agents/wheels/index.json"))
except Exception as exc:
    sys.exit("error: cannot fetch the wheel index from %s: %s" % (server, exc))
want = index["interpreter"]
abi = "cp%d%d" % sys.version_info[:2]
machine = platform.machine()
for item in index["files"]:
    name = item["filename"]
    if os.path.basename(name) != name or not name.endswith(".whl"):
        sys.exit("error: unexpected file name in the index: %r" % name)
    _py, wheel_abi, plat = name[:-4].split("-")[-3:]
    if wheel_abi not in ("none", "abi3") and abi not in wheel_abi.split("."):
        sys.exit(
            "error: this server's agent wheels are built for Python %s (%s) but %s is "
            "Python %d.%d; install python%s and pass --python /path/to/python%s"
            % (want["version"], name, sys.executable, sys.version_info[0],
               sys.version_info[1], want["version"], want["version"]))
    if plat != "any" and not any(p.endswith("_" + machine) for p in plat.split(".")):
        sys.exit("error: this server's agent wheels are built for %s, this machine is %s (%s)"
                 % (want["machine"], machine, name))
for item in index["files"]:
    data = get("/api/v1/agents/wheels/" + item["filename"])
    if hashlib.sha256(data).hexdigest() != item["sha256"]:
        sys.exit("error: checksum mismatch for %s; not installing" % item["filename"])
    with open(os.path.join(dest, item["filename"]), "wb") as fh:
        fh.write(data)
print(index["agent"]["version"])
"""

TEMPLATE = r"""#!/bin/sh
# Breeze agent installer, served by the Breeze server at /api/v1/agents/install.sh
#
#   curl -fsSL @@SERVER_TEXT@@/api/v1/agents/install.sh | sudo sh -s -- --key KEY
#
# Options:
#   --key KEY         enrollment key from the console (needed unless already enrolled)
#   --server URL      server to enroll with (default: @@SERVER_TEXT@@)
#   --prefix DIR      install directory (default: /opt/breeze-agent; its config goes to
#                     /etc/breeze-agent, any other prefix keeps its config in DIR/etc)
#   --python PATH     Python 3.11+ interpreter to use (default: python3)
#   --no-service      do not install the systemd unit (run the agent yourself)
#   --insecure        allow plain http:// to a non-loopback server
#   --ca-cert FILE    CA certificate (PEM) that signed the server's certificate
#   --uninstall       stop and remove the service, the prefix and the config
set -eu

DEFAULT_SERVER=@@SERVER@@
DEFAULT_PREFIX=/opt/breeze-agent
UNIT_NAME=breeze-agent.service
# Test seams: a stand-in for systemctl and a unit directory (tests run without systemd).
SYSTEMCTL=${BREEZE_SYSTEMCTL:-systemctl}
UNIT_DIR=${BREEZE_UNIT_DIR:-/etc/systemd/system}

say() { printf 'breeze-agent: %s\n' "$*"; }
die() { printf 'breeze-agent: error: %s\n' "$*" >&2; exit 1; }
usage() {
    cat <<'BREEZE_USAGE'
usage: install.sh [--key KEY] [--server URL] [--prefix DIR] [--no-service] [--uninstall]
@@USAGE@@
BREEZE_USAGE
}
has_systemd() {
    [ -n "${BREEZE_SYSTEMCTL:-}" ] && return 0
    command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

uninstall() {
    if [ -f "$UNIT_DIR/$UNIT_NAME" ]; then
        if has_systemd; then
            "$SYSTEMCTL" disable --now "$UNIT_NAME" </dev/null || true
        fi
        rm -f "$UNIT_DIR/$UNIT_NAME"
        if has_systemd; then "$SYSTEMCTL" daemon-reload </dev/null || true; fi
        say "removed $UNIT_NAME"
    fi
    if [ -d "$PREFIX" ]; then
        [ -f "$MARKER" ] || die "$PREFIX has no .breeze-agent marker; not deleting it"
        rm -rf "$PREFIX"
        say "removed $PREFIX"
    fi
    if [ "$CONFIG_DIR" = /etc/breeze-agent ] && [ -d "$CONFIG_DIR" ]; then
        rm -rf "$CONFIG_DIR"
        say "removed $CONFIG_DIR"
    fi
    say "uninstalled (the device stays in the console until you remove it there)"
}

install_agent() {
    if [ "$(id -u)" != 0 ] && { [ "$SERVICE" = 1 ] || [ "$PREFIX" = "$DEFAULT_PREFIX" ]; }; then
        die "run as root (curl ... | sudo sh -s -- ...), or use --prefix DIR --no-service"
    fi
    if [ "$SERVICE" = 1 ] && ! has_systemd; then
        die "systemd is not running here; use --no-service and start the agent yourself"
    fi
    if [ -z "$KEY" ] && [ ! -f "$CONFIG" ]; then
        die "--key is required (an enrollment key from the console)"
    fi
    [ -n "$PY" ] || PY=$(command -v python3 || true)
    [ -n "$PY" ] || die "python3 not found; install Python 3.11+ (apt-get install python3-venv)"
    CHECK='import sys; sys.exit(sys.version_info < (3, 11))'
    if ! "$PY" -c "$CHECK" </dev/null >/dev/null 2>&1; then
        SHOW='import sys; print("%d.%d" % sys.version_info[:2])'
        found=$("$PY" -c "$SHOW" </dev/null 2>/dev/null || echo unknown)
        die "$PY is Python $found; the Breeze agent needs 3.11 or newer (use --python PATH)"
    fi
    if [ -e "$PREFIX" ] && [ ! -f "$MARKER" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
        die "$PREFIX exists and is not a Breeze agent install; choose an empty or new --prefix"
    fi
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    mkdir -p "$PREFIX" "$TMP/wheels"
    printf 'config=%s\n' "$CONFIG" >"$MARKER"

    say "fetching the agent from $SERVER"
    cat >"$TMP/fetch.py" <<'BREEZE_FETCH_PY'
@@FETCH_PY@@
BREEZE_FETCH_PY
    VERSION=$("$PY" "$TMP/fetch.py" "$SERVER" "$TMP/wheels" "$CA_CERT" "$INSECURE" </dev/null) ||
        die "could not download the agent wheels"

    say "installing breeze-agent $VERSION into $VENV (python: $PY)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" </dev/null >"$TMP/venv.log" 2>&1 ||
        die "cannot create a virtual environment with $PY (apt-get install python3-venv):" \
            "$(tail -n 3 "$TMP/venv.log")"
    PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install --quiet \
        --disable-pip-version-check --no-index --find-links "$TMP/wheels" breeze-agent \
        </dev/null ||
        die "pip could not install the agent"

    (umask 077 && mkdir -p "$CONFIG_DIR")
    if [ -n "$CA_CERT" ]; then
        cp "$CA_CERT" "$CONFIG_DIR/ca.pem"
        chmod 0644 "$CONFIG_DIR/ca.pem"
        CA_CERT="$CONFIG_DIR/ca.pem"
    fi
    if [ -n "$KEY" ]; then
        set -- enroll --server "$SERVER" --config "$CONFIG"
        if [ "$INSECURE" = 1 ]; then set -- "$@" --insecure; fi
        if [ -n "$CA_CERT" ]; then set -- "$@" --ca-cert "$CA_CERT"; fi
        BREEZE_AGENT_KEY="$KEY" "$VENV/bin/breeze-agent" "$@" </dev/null ||
            die "enrollment failed (remove this install with --uninstall, or retry)"
    else
        say "keeping the existing enrollment in $CONFIG"
    fi

    if [ "$SERVICE" = 1 ]; then
        cat >"$UNIT_DIR/$UNIT_NAME" <<BREEZE_UNIT
[Unit]
Description=Breeze RMM agent
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart="$VENV/bin/breeze-agent" run --config "$CONFIG"
Restart=on-failure
RestartSec=10
# 3: token revoked / device decommissioned, 4: not enrolled. Restarting cannot help.
RestartPreventExitStatus=3 4
Environment=PYTHONUNBUFFERED=1

[Install]
WantedBy=multi-user.target
BREEZE_UNIT
        "$SYSTEMCTL" daemon-reload </dev/null
        "$SYSTEMCTL" enable "$UNIT_NAME" </dev/null
        "$SYSTEMCTL" restart "$UNIT_NAME" </dev/null
        say "service $UNIT_NAME started (journalctl -u $UNIT_NAME)"
    else
        say "no service installed; run: \"$VENV/bin/breeze-agent\" run --config \"$CONFIG\""
    fi
    say "done: config $CONFIG; status: \"$VENV/bin/breeze-agent\" status --config \"$CONFIG\""
}

main() {
    KEY=""
    SERVER=$DEFAULT_SERVER
    PREFIX=$DEFAULT_PREFIX
    PY=""
    SERVICE=1
    UNINSTALL=0
    INSECURE=0
    CA_CERT=""
    while [ $# -gt 0 ]; do
        case $1 in
            --key|--server|--prefix|--python|--ca-cert)
                [ $# -ge 2 ] || die "$1 needs a value"
                case $1 in
                    --key) KEY=$2 ;;
                    --server) SERVER=$2 ;;
                    --prefix) PREFIX=$2 ;;
                    --python) PY=$2 ;;
                    --ca-cert) CA_CERT=$2 ;;
                esac
                shift 2 ;;
            --no-service) SERVICE=0; shift ;;
            --insecure) INSECURE=1; shift ;;
            --uninstall) UNINSTALL=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown option: $1 (see the options at the top of this script)" ;;
        esac
    done
    SERVER=${SERVER%/}
    while [ "${PREFIX%/}" != "$PREFIX" ]; do PREFIX=${PREFIX%/}; done
    [ -n "$PREFIX" ] || die "--prefix must not be /"
    case $PREFIX in
        /*) ;;
        *) PREFIX="$(pwd)/$PREFIX" ;;
    esac
    if [ -n "$CA_CERT" ]; then
        [ -f "$CA_CERT" ] || die "--ca-cert $CA_CERT does not exist"
        case $CA_CERT in /*) ;; *) CA_CERT="$(pwd)/$CA_CERT" ;; esac
    fi
    CONFIG_DIR="$PREFIX/etc"
    if [ "$PREFIX" = "$DEFAULT_PREFIX" ]; then CONFIG_DIR=/etc/breeze-agent; fi
    CONFIG="$CONFIG_DIR/agent.json"
    VENV="$PREFIX/venv"
    MARKER="$PREFIX/.breeze-agent"
    if [ "$UNINSTALL" = 1 ]; then
        uninstall
    else
        install_agent
    fi
}

main "$@"
"""


def _usage() -> str:
    start = TEMPLATE.index("# Options:")
    block = TEMPLATE[start : TEMPLATE.index("set -eu")].rstrip("\n")
    return "\n".join(line[2:] if line.startswith("# ") else "" for line in block.split("\n"))


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render(server_url: str) -> str:
    """The script with ``server_url`` as its default server."""
    url = server_url.strip().rstrip("/")
    if any(c in url for c in "\n\r\0"):
        raise ValueError("server URL contains control characters")
    text = "".join(c if c.isprintable() and c not in "`$\\" else "?" for c in url)
    return (
        TEMPLATE.replace("@@FETCH_PY@@", _FETCH_PY.strip("\n"))
        .replace("@@USAGE@@", _usage())
        .replace("@@SERVER_TEXT@@", text)
        .replace("@@SERVER@@", shell_quote(url))
    )
