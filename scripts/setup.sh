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

PY=${PYTHON:-python3}
# The sandbox's fixed ports (52379-59300) lie in Linux's ephemeral port range: reserve them so that
# no outgoing connection takes one just before a server binds it (seen once: kwok failed to start).
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports wanted current
  wanted=$(PYTHONPATH=. "$PY" -c "from nova_gate.sandbox.ports import reserved_ports_spec as r; print(r())" 2>/dev/null) || return 0
  current=$(cat "$file" 2>/dev/null) || return 0
  if [ -n "$current" ]; then wanted="$current,$wanted"; fi
  echo "$wanted" > "$file" 2>/dev/null || echo "setup: cannot reserve the sandbox ports (not root?); continuing" >&2
}
reserve_ports

# (Re)install when the package is missing, installed from another checkout, or pyproject changed.
here=$(pwd -P)
installed=$("$PY" -c "import nova_gate, chdb, pytest_html, os; print(os.path.dirname(os.path.dirname(os.path.realpath(nova_gate.__file__))))" 2>/dev/null || true)
if [ "$installed" != "$here" ] || [ ! -e .sandbox/.pip-stamp ] || [ pyproject.toml -nt .sandbox/.pip-stamp ]; then
  echo "setup: pip install -e .[dev]"
  "$PY" -m pip install -q --disable-pip-version-check -e ".[dev]"
  mkdir -p .sandbox && touch .sandbox/.pip-stamp
fi
