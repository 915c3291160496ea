#!/usr/bin/env bash
# Debian packages the tests use: OpenSSH clients (the simulator is tested with ssh
# and sftp), PostgreSQL, and chromium for the browser tests. Installs what is missing
# when run as root; otherwise says what to install.
set -euo pipefail
need=()
command -v ssh >/dev/null || need+=(openssh-client)
command -v sshpass >/dev/null || need+=(sshpass)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v git >/dev/null || need+=(git)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]}); related tests will skip" >&2
  exit 0
fi
echo "==> apt-get install ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
