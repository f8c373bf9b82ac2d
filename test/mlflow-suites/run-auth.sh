#!/usr/bin/env bash
# Runs MLflow 2.12.2's own Python client against `slipway server --auth` (auth_workflow.py): tracking with
# HTTP Basic and with an API token, and MLflow's basic-auth app client (AuthServiceClient, what
# mlflow.server.get_app_client("basic-auth", …) returns) creating users and managing permissions.
#
#   MLFLOW_SOURCE=/path/to/mlflow-2.12.2 test/mlflow-suites/run-auth.sh
#
# MLFLOW_SOURCE and MLFLOW_DEPS as for run.sh (docs/mlflow-compatibility.md says how to get them).
# SLIPWAY_SERVER_ARGS: more server flags, e.g. --backend-store-uri postgresql://postgres@127.0.0.1:5432/DB
# Build Slipway first (npm run build). Exit code: the script's (0 when every step held).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
if [[ -z "${MLFLOW_SOURCE:-}" || ! -f "$MLFLOW_SOURCE/mlflow/server/auth/client.py" ]]; then
  echo "error: set MLFLOW_SOURCE to MLflow 2.12.2's source tree; see docs/mlflow-compatibility.md" >&2
  exit 2
fi
home="$(mktemp -d)"
log="$home/server.log"
password="admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
SLIPWAY_HOME="$home" SLIPWAY_ADMIN_PASSWORD="$password" node "$repo/dist/cli/main.js" server --port 0 --auth ${SLIPWAY_SERVER_ARGS:-} >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$home"' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'ready at http://[0-9.:]*' "$log" | head -1 | sed 's/ready at //' || true)"
  [[ -n "$url" ]] && break
  sleep 0.1
done
[[ -n "$url" ]] || { echo "error: the server did not start:" >&2; cat "$log" >&2; exit 1; }
PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHONPATH="$MLFLOW_SOURCE${MLFLOW_DEPS:+:$MLFLOW_DEPS}" URI="$url" ADMIN_PW="$password" \
  MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 /usr/bin/python3 "$here/auth_workflow.py"
