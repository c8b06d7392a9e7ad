#!/bin/sh
# Remakes proto/vectors/ with fundwatch's own code (tests/tools/fwvec).  The
# vectors are then checked by tests/integration/vectors.sh with tools that
# are not ours.  Run through `make vectors`; the result is committed.
set -eu
B=${B:-build}
dir=$(dirname "$0")
rm -f "$dir"/*.pem "$dir"/*.id "$dir"/*.json "$dir"/*.sig "$dir"/*.z \
    "$dir"/*.fwb "$dir"/*.canonical "$dir"/office.* "$dir"/evidence.*
"$B/tests/tools/fwvec" make "$dir"
