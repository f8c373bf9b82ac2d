#!/usr/bin/env bash
# Runs MLflow 2.12.2's own REST test suites — tests/tracking/test_rest_tracking.py and
# tests/tracking/test_model_registry.py — against `slipway server`, test bodies unchanged:
# slipway_suite_plugin.py replaces their `_init_server` helper so each fixture starts a
# Slipway server on a free loopback port with a fresh store, and stops it afterwards.
#
#   MLFLOW_SOURCE=/path/to/mlflow-2.12.2 test/mlflow-suites/run.sh [pytest args…]
#
# Environment:
#   MLFLOW_SOURCE   MLflow's source tree at tag v2.12.2, with tests/ and conftest.py (required)
#   MLFLOW_DEPS     extra PYTHONPATH entries, ':'-separated (e.g. a querystring_parser folder)
#   SERVER          slipway (default); mlflow: MLflow's own server started by MLflow's own
#                   helper, for comparison; mlflow-proxied: `mlflow server --serve-artifacts`
#                   (artifacts through the server, as on Slipway), to tell which tests only
#                   pass when the client writes artifacts straight to a local folder
#   SLIPWAY_STORE   sqlite (default: a fresh SLIPWAY_HOME per server) or postgresql (a fresh
#                   database per server on SLIPWAY_PG_ADMIN_URI, created and dropped)
#   SLIPWAY_PG_ADMIN_URI  default postgresql://postgres@127.0.0.1:5432/postgres
#   SLIPWAY_CLI     the CLI to start (default: this checkout's dist/cli/main.js)
#   MLFLOW_SUITES_OUT     folder for results.json (every failing test with its HTTP
#                   exchanges) and junit.xml; default: a new temporary folder
#   MLFLOW_SUITES_TRACE_ALL=1  record the exchanges of passing tests too (for compare.py)
#   MLFLOW_HTTP_REQUEST_MAX_RETRIES  the client's retries of 429/5xx answers; 0 here unless
#                   set, so a server error fails at once instead of after minutes of back-off
#
# Extra arguments go to pytest, e.g. `-k search_experiments` or `-x`.
# Build Slipway first (npm run build). Exit code: pytest's (1 when a test failed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ -z "${MLFLOW_SOURCE:-}" ]]; then
  echo "error: set MLFLOW_SOURCE to MLflow 2.12.2's source tree (with tests/ and conftest.py); see docs/mlflow-compatibility.md" >&2
  exit 2
fi
mlflow_source="$(cd "$MLFLOW_SOURCE" && pwd)"
for f in conftest.py tests/tracking/integration_test_utils.py tests/tracking/test_rest_tracking.py tests/tracking/test_model_registry.py mlflow/version.py; do
  if [[ ! -f "$mlflow_source/$f" ]]; then
    echo "error: $mlflow_source/$f is missing; MLFLOW_SOURCE must be MLflow's whole source tree at tag v2.12.2" >&2
    exit 2
  fi
done
if ! grep -q "^VERSION = \"2.12.2\"" "$mlflow_source/mlflow/version.py"; then
  echo "warning: $mlflow_source is not MLflow 2.12.2 ($(grep '^VERSION' "$mlflow_source/mlflow/version.py")); the deselections below are for 2.12.2" >&2
fi

server="${SERVER:-slipway}"
store="${SLIPWAY_STORE:-sqlite}"
case "$server" in slipway | mlflow | mlflow-proxied) ;; *) echo "error: SERVER must be slipway, mlflow or mlflow-proxied, not '$server'" >&2; exit 2 ;; esac
case "$store" in sqlite | postgresql) ;; *) echo "error: SLIPWAY_STORE must be sqlite or postgresql, not '$store'" >&2; exit 2 ;; esac

if [[ "$server" == slipway ]]; then
  cli="${SLIPWAY_CLI:-$repo/dist/cli/main.js}"
  if [[ ! -f "$cli" ]]; then
    echo "error: $cli is missing; run 'npm run build' first" >&2
    exit 2
  fi
  node_bin="$(command -v node)" || { echo "error: node is not on PATH" >&2; exit 2; }
  export SLIPWAY_NODE="$node_bin" SLIPWAY_CLI="$cli"
  if [[ "$store" == postgresql ]]; then
    psql_bin="$(command -v psql)" || { echo "error: psql is not on PATH (needed to create and drop the test databases)" >&2; exit 2; }
    export SLIPWAY_PSQL="$psql_bin"
  fi
fi

out="${MLFLOW_SUITES_OUT:-$(mktemp -d -t mlflow-suites.XXXXXX)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Tests that cannot apply, with the reason. Everything else in both files runs.
deselect=(
  # GraphQL: MLflow 2.12 serves /graphql with graphene 3, which Debian does not package
  # (it has graphene 2.1), so not even the reference server can answer these here.
  tests/tracking/test_rest_tracking.py::test_graphql_handler
  tests/tracking/test_rest_tracking.py::test_get_experiment_graphql
  tests/tracking/test_rest_tracking.py::test_get_run_and_experiment_graphql
  # The deployments gateway proxy (/ajax-api/2.0/mlflow/gateway-proxy): a second server
  # started with MLFLOW_DEPLOYMENTS_TARGET and an http:// backend store URI; Slipway has
  # no deployments server to proxy to.
  tests/tracking/test_rest_tracking.py::test_gateway_proxy_handler_rejects_invalid_requests
  # Never contact a server: they call MLflow's handler function on an in-process Flask app
  # with a mocked SqlAlchemyStore, and test MLflow's step-sampling helper directly.
  tests/tracking/test_rest_tracking.py::test_get_metric_history_bulk_calls_optimized_impl_when_expected
  tests/tracking/test_rest_tracking.py::test_get_sampled_steps_from_steps
)
deselect_args=()
for t in "${deselect[@]}"; do deselect_args+=(--deselect "$t"); done

pythonpath="$here:$mlflow_source"
if [[ -n "${MLFLOW_DEPS:-}" ]]; then pythonpath="$pythonpath:$MLFLOW_DEPS"; fi

echo "MLflow suites: server=$server store=$([[ $server == slipway ]] && echo "$store" || echo "MLflow's fixtures") source=$mlflow_source out=$out" >&2
cd "$mlflow_source"
set +e
# Debian's interpreter and its packages only (see docs/mlflow-compatibility.md).
env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  PYTHONPATH="$pythonpath" \
  PYTHONDONTWRITEBYTECODE=1 \
  SERVER="$server" SLIPWAY_STORE="$store" MLFLOW_SUITES_OUT="$out" \
  MLFLOW_HTTP_REQUEST_MAX_RETRIES="${MLFLOW_HTTP_REQUEST_MAX_RETRIES:-0}" \
  /usr/bin/python3 -m pytest \
  -p slipway_suite_plugin -p no:cacheprovider \
  -o timeout=300 --color=no -rfE \
  --junitxml="$out/junit.xml" \
  "${deselect_args[@]}" \
  tests/tracking/test_rest_tracking.py tests/tracking/test_model_registry.py \
  "$@"
rc=$?
set -e
echo "results: $out/results.json, $out/junit.xml" >&2
exit "$rc"
