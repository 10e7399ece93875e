#!/usr/bin/env bash
# ./run.sh [serve]  - install into .venv on first use, serve on SQLite (127.0.0.1:8000)
# ./run.sh test     - install what the tests need (Python packages, nginx, redis-server, chromium),
#                    check with ruff and mypy, run every test in TEST_WORKERS processes
#                    (tests/test_packaging.py also builds the wheel and installs it in a new venv);
#                    `-m "not slow"` and other tiers: docs/testing.md
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
# pytest-xdist workers: twice the 2 cores CI has, as many tests wait on servers they start
# (`-n 0` after `test` runs them in one process).
TEST_WORKERS=4

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "run.sh: Python 3.11 or newer is needed" >&2
    exit 1
}

# (Re)install when setup.cfg changed since the last install, or for another extra.
ensure_venv() {
    local extra="$1" stamp="$VENV/.installed-$1"
    if [ ! -x "$VENV/bin/python" ]; then
        "$(find_python)" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${extra}"
        touch "$stamp"
    fi
}

# Debian packages that tests start as real servers (they listen on 127.0.0.1 only).
ensure_test_packages() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
    # The live page's tests drive Debian's Chromium through its chromedriver (no browser download).
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
    if [ ${#missing[@]} -gt 0 ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "run.sh: installing ${missing[*]} (Debian packages) for the tests" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

command="${1:-serve}"
case "$command" in
    serve)
        ensure_venv ""
        exec "$VENV/bin/armada" serve
        ;;
    test)
        shift
        ensure_venv "[test]"
        ensure_test_packages
        "$VENV/bin/ruff" check .
        "$VENV/bin/mypy"
        (cd client && "../$VENV/bin/mypy")
        # Bytecode, and pytest's rewritten test modules, cached in the venv (not in the tree):
        # else every worker and every `armada` process a test starts compiles them again.
        export PYTHONDONTWRITEBYTECODE="" PYTHONPYCACHEPREFIX="$PWD/$VENV/pycache"
        # loadgroup: the tests of one xdist_group share a worker (one browser, one wheel).
        exec "$VENV/bin/python" -m pytest -n "$TEST_WORKERS" --dist loadgroup "$@"
        ;;
    *)
        echo "usage: ./run.sh [serve|test [pytest args]]" >&2
        exit 2
        ;;
esac
