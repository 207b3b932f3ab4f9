#!/usr/bin/env bash
# Before the first release there is one baseline migration; this rebuilds it from services/models.py.
# After a release, add migrations with `alembic revision --autogenerate` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f services/migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from services.migrate import alembic_config
cfg = alembic_config(f"sqlite:///{sys.argv[1]}/empty.db")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001", head="base")
PY
mv services/migrations/versions/0001_initial_schema.py services/migrations/versions/0001_initial.py
.venv/bin/ruff check --fix -q services/migrations/versions/0001_initial.py >/dev/null || true
.venv/bin/ruff format -q services/migrations/versions/0001_initial.py
rm -rf "$tmp"
echo "regenerated services/migrations/versions/0001_initial.py"
