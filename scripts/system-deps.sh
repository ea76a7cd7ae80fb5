#!/usr/bin/env bash
# Installs the Debian packages the lab tier needs (Postfix, nsd, unbound as the DANE
# scenarios' validating resolver, iptables/nftables, iproute2), and prometheus for its
# promtool (the OpenMetrics output is checked with `promtool check metrics`; Debian
# has no smaller package that ships it), and chromium: tests/browser loads the HTML
# report in headless Chromium (DOM, screenshots, PDF), and redis-server: the broker of
# `bulk --engine celery` in tests/integration/test_bulk_celery.py (each test run starts its
# own on a free loopback port). Only as root; elsewhere it says what is
# missing and those tests skip.
# `--bench` adds what scripts/bench.py compares against (openssl, swaks, Sisimai); CI skips it.
set -euo pipefail
pkgs=(postfix nsd unbound iptables nftables iproute2 procps prometheus chromium redis-server)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(openssl swaks libsisimai-perl)
fi
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: not root (or no apt-get): missing ${need[*]}; the lab and browser tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks debconf questions on install; answer them for a local-only setup.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections || true
# Debian starts a package's service on install unless policy-rc.d says no; the stock
# unbound would recurse to the root servers, so nothing starts while we install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian may have started the stock services anyway; the lab runs its own instances.
for svc in postfix nsd unbound prometheus redis-server; do
  command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1 || true
done
