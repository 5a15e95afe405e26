#!/usr/bin/env bash
# PostgREST's own spec suite against the demo server: builds the demo,
# runs the shared tool (../shared/pgrst-spec, or PGRST_SPEC_TOOL), then
# sorts its failures into the differences this crate makes on purpose
# (bench/pgrst-spec-differences.tsv, each with its reason; the README's
# compatibility notes say why) and the rest.
#
# Usage: PGRST_SPEC_REPO=<git dir of PostgREST/postgrest> bench/pgrst-spec.sh [run.py flags]
# The published numbers are for PostgREST's commit 4834678: --rev 4834678.
# The PostGIS cases need Debian's postgresql-<version>-postgis-3 (CI does not install it).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${PGRST_SPEC_TOOL:-../shared/pgrst-spec}
cargo build --quiet --release --example server
python3 "$tool/run.py" "$@"
python3 bench/pgrst_spec_report.py target/pgrst-spec/results.json bench/pgrst-spec-differences.tsv
