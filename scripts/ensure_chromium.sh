#!/bin/sh
# `make test` runs this before the suite: tests/unit/engine/test_engine_report.py renders
# report.html in headless Chromium when the `chromium` command exists, and skips without it.
# As root with apt-get (CI: a fresh Debian machine) it installs Debian's chromium without the
# recommended packages, reading the package lists first only when they do not offer it (or the
# install from them fails). Exit status: 0 chromium is there; 2 it is not, and one line said the
# test will skip (no root or no apt-get; or the install failed off CI); 1 the install failed on
# CI (CI=true), where the test must not skip.
set -u

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium not installed (needs root and apt-get): the headless report test will skip"
    exit 2
fi

echo "==> chromium (Debian package, no recommends) for the headless report test"
export DEBIAN_FRONTEND=noninteractive
install_chromium() {
    apt-get install -y -qq --no-install-recommends chromium >/dev/null \
        && command -v chromium >/dev/null 2>&1
}
if apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]' && install_chromium; then
    exit 0
fi
if apt-get update -qq && install_chromium; then
    exit 0
fi
if [ "${CI:-}" = true ]; then
    echo "error: apt-get could not install chromium; CI must run the headless report test" >&2
    exit 1
fi
echo "chromium could not be installed with apt-get: the headless report test will skip"
exit 2
