#!/usr/bin/env bash
# Install everything nova-gate and its sandbox need on a fresh Debian machine (idempotent).
# Heavy builds (sqlx-cli, Kafka/OpenSearch jars) are cached in ~/.cache/nova-gate by the
# sandbox components themselves and rebuilt only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postgresql-15 postgresql-contrib redis-server redis-tools prometheus
              prometheus-alertmanager docker-registry git curl chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; the sandbox runs its own on other ports.
for svc in redis-server prometheus prometheus-alertmanager docker-registry postgresql; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

# Python: everything goes into a virtual environment inside the checkout (.venv, or $NOVA_GATE_VENV),
# never into the interpreter that is first on PATH (Debian's refuses: externally-managed-environment;
# another one would get its packages' pins broken). $PYTHON chooses the interpreter that creates it.
BOOT=${PYTHON:-python3}
VENV=${NOVA_GATE_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sys" 2>/dev/null; then
  rm -rf "$VENV"
  echo "setup: $BOOT -m venv $VENV"
  if ! "$BOOT" -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 ships venv without ensurepip: that is the python3-venv package
    rm -rf "$VENV"
    ver=$("$BOOT" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    echo "setup: $BOOT has no ensurepip; apt-get install python3-venv python$ver-venv"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv "python$ver-venv" >/dev/null \
      || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$BOOT" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"

# (Re)install when the package is missing, installed from another checkout, or pyproject/setup.py changed.
here=$(pwd -P)
stamp="$VENV/.nova-gate-stamp"
installed=$("$PY" -c "import nova_gate, chdb, pytest_html, junitparser, os; print(os.path.dirname(os.path.dirname(os.path.realpath(nova_gate.__file__))))" 2>/dev/null || true)
if [ "$installed" != "$here" ] || [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  echo "setup: $PY -m pip install -e .[dev]"
  "$PY" -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi

# The sandbox's fixed ports (52379-59300) lie in Linux's ephemeral port range: reserve them so that
# no outgoing connection takes one just before a server binds it (seen once: kwok failed to start).
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports wanted current
  wanted=$("$PY" -c "from nova_gate.sandbox.ports import reserved_ports_spec as r; print(r())" 2>/dev/null) || return 0
  current=$(cat "$file" 2>/dev/null) || return 0
  if [ -n "$current" ]; then wanted="$current,$wanted"; fi
  echo "$wanted" > "$file" 2>/dev/null || echo "setup: cannot reserve the sandbox ports (not root?); continuing" >&2
}
reserve_ports
