#!/bin/bash
# first-run.sh — set up a Wattproof gateway on an image without cloud-init (Raspberry Pi OS Lite,
# Debian). Does what deploy/gateway/cloud-init/user-data.yaml does:
#   1. installs the wattproof-agent package (and Node.js through its dependency),
#   2. puts the configuration (and the pinned release key) in /etc/wattproof,
#   3. creates the gateway key:      wattproof-agent init
#   4. enrolls with the hub:         wattproof-agent enroll --hub URL --token TOKEN
#   5. starts the agent:             systemctl enable --now wattproof-agent
# Safe to run again after a failure: a step already done is skipped (an existing key is kept).
#
# Usage (as root):
#   first-run.sh --hub https://hub.example.net [--token TOKEN | --token-file FILE | --token -]
#                [--deb FILE] [--config FILE] [--release-key FILE] [--dry-run]
# Anything not given is looked for on the boot partition, in <boot>/wattproof/ (boot is
# /boot/firmware on Raspberry Pi OS Bookworm and later, /boot before; WATTPROOF_BOOT_DIR overrides):
#   wattproof-agent_*_<arch>.deb, agent.yaml, release-key, enroll-token, hub-url
# With no token anywhere and a terminal attached, the script asks for it (input hidden).
# The token file is deleted from the boot partition once the gateway is enrolled.
set -euo pipefail

prog=first-run.sh
hub=''
token=''
token_file=''
deb=''
config=''
release_key=''
dry_run=0

die() {
  echo "$prog: $*" >&2
  exit 1
}
say() { echo "$prog: $*"; }

# Runs a command, or prints it under --dry-run. A token is never printed.
run() {
  if [ "$dry_run" = 1 ]; then
    local shown=() a
    for a in "$@"; do
      if [ -n "$token" ] && [ "$a" = "$token" ]; then shown+=('<token>'); else shown+=("$a"); fi
    done
    echo "would run: ${shown[*]}"
  else
    "$@"
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --hub) hub=${2:?--hub needs a URL}; shift 2 ;;
    --token) token=${2:?--token needs a value (or - to read it from stdin)}; shift 2 ;;
    --token-file) token_file=${2:?--token-file needs a file}; shift 2 ;;
    --deb) deb=${2:?--deb needs a file}; shift 2 ;;
    --config) config=${2:?--config needs a file}; shift 2 ;;
    --release-key) release_key=${2:?--release-key needs a file}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

if [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run me as root (sudo $0 ...)"
fi

boot=${WATTPROOF_BOOT_DIR:-}
if [ -z "$boot" ]; then
  if [ -d /boot/firmware/wattproof ]; then boot=/boot/firmware; else boot=/boot; fi
fi
from_boot="$boot/wattproof"
etc=/etc/wattproof

# --- what we need, from arguments or the boot partition -------------------------------------
if [ -z "$hub" ] && [ -f "$from_boot/hub-url" ]; then
  hub=$(tr -d ' \r\n' <"$from_boot/hub-url")
fi
[ -n "$hub" ] || die "no hub URL: pass --hub https://hub.example.net (or put it in $from_boot/hub-url)"

if [ "$token" = - ]; then
  IFS= read -r token || true
elif [ -n "$token_file" ]; then
  [ -r "$token_file" ] || die "cannot read the token file $token_file"
  token=$(tr -d ' \r\n' <"$token_file")
elif [ -z "$token" ] && [ -f "$from_boot/enroll-token" ]; then
  token_file="$from_boot/enroll-token"
  token=$(tr -d ' \r\n' <"$token_file")
fi
if [ -z "$token" ] && [ -t 0 ]; then
  read -r -s -p 'Enrolment token from the operator (wpt_...): ' token
  echo
fi
[ -n "$token" ] || die "no enrolment token: pass --token, --token-file, or put it in $from_boot/enroll-token"
case "$token" in
  wpt_*) ;;
  *) die "the enrolment token starts with wpt_ — check what was pasted" ;;
esac

if [ -z "$deb" ]; then
  arch=$(dpkg --print-architecture)
  for f in "$from_boot"/wattproof-agent_*_"$arch".deb; do
    [ -f "$f" ] && deb=$f
  done
fi

# --- 1. the package --------------------------------------------------------------------------
if [ -n "$deb" ]; then
  say "installing $deb"
  # apt resolves the nodejs dependency; dpkg -i alone would not.
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$(realpath "$deb")"
elif command -v wattproof-agent >/dev/null 2>&1; then
  say "wattproof-agent is already installed ($(wattproof-agent --version))"
else
  die "no wattproof-agent package: pass --deb FILE or put wattproof-agent_<version>_$(dpkg --print-architecture).deb in $from_boot"
fi

# --- 2. configuration ------------------------------------------------------------------------
if [ -z "$config" ] && [ -f "$from_boot/agent.yaml" ]; then config="$from_boot/agent.yaml"; fi
if [ -n "$config" ]; then
  say "configuration from $config"
  run install -o root -g wattproof -m 0640 "$config" "$etc/agent.yaml"
elif [ ! -f "$etc/agent.yaml" ]; then
  die "no configuration: pass --config FILE, put agent.yaml in $from_boot, or write $etc/agent.yaml (see $etc/agent.yaml.example)"
fi
if [ -z "$release_key" ] && [ -f "$from_boot/release-key" ]; then release_key="$from_boot/release-key"; fi
if [ -n "$release_key" ]; then
  run install -o root -g wattproof -m 0644 "$release_key" "$etc/release-key"
fi

# --- 3. the gateway key ----------------------------------------------------------------------
if [ -f /var/lib/wattproof/gateway.key ]; then
  say "the gateway already has a key; keeping it"
else
  run runuser -u wattproof -- wattproof-agent init --config "$etc/agent.yaml"
fi

# --- 4. enrolment ----------------------------------------------------------------------------
say "enrolling with $hub"
if ! run runuser -u wattproof -- wattproof-agent enroll --hub "$hub" --token "$token"; then
  die "enrolment failed (see above). Check the hub URL and network, and ask the operator for a new token if it expired or was used; then run me again"
fi
if [ -n "$token_file" ] && [ "$token_file" = "$from_boot/enroll-token" ]; then
  run rm -f "$token_file"
fi

# --- 5. start --------------------------------------------------------------------------------
if [ -d /run/systemd/system ] || [ "$dry_run" = 1 ]; then
  run systemctl enable --now wattproof-agent.service
  say "started. Check it with: wattproof-agent status; journalctl -u wattproof-agent -f"
else
  say "systemd is not running here; start the agent with: wattproof-agent run --config $etc/agent.yaml"
fi
