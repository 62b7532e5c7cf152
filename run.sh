#!/usr/bin/env bash
# One entry point for people and CI: creates .venv on first use, installs the project, then
#   ./run.sh bot [args]   runs the bot (offline console without BOT_TOKEN, Telegram with it)
#   ./run.sh test [args]  runs the whole test suite, one worker per core (pytest-xdist; a
#                         test file stays on one worker); `-n 0` runs it in one process
set -euo pipefail
cd "$(dirname "$0")"
venv=.venv
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e '.[test]'
  touch "$stamp"
fi
what="${1:-bot}"
shift || true
case "$what" in
  bot) exec "$venv/bin/python" -m bot "$@" ;;
  test) exec "$venv/bin/python" -m pytest -n auto --dist loadfile "$@" ;;
  *) echo "usage: ./run.sh bot|test [args]" >&2; exit 2 ;;
esac
