#!/bin/sh
# Records `nix build --log-format internal-json -v` of this flake (copied
# to /tmp/recbv/flake, so the store paths match the recordings) in a fresh
# private store with Nix 2.8.0 (max-jobs = 4), the blobs coming from a binary cache:
# a second private store builds them and `nix copy --to file://…` puts
# them in a cache that the first store uses as its substituter.
#   record.sh good build-view-internal-json.timed
#   record.sh broken build-view-failure-internal-json.timed
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
R=/tmp/recbv; ATTR=$1; OUT=$2
if [ -e $R ]; then chmod -R u+w $R; rm -rf $R; fi
mkdir -p $R/flake $R/conf $R/cache-conf
cp "$HERE/flake.nix" $R/flake/
common="experimental-features = nix-command flakes
sandbox = false
build-users-group =
flake-registry =
max-jobs = 4"
printf '%s\nsubstituters =\n' "$common" > $R/cache-conf/nix.conf
printf '%s\nsubstituters = file://%s/binary-cache\nrequire-sigs = false\n' "$common" $R > $R/conf/nix.conf
export NIX_REMOTE= XDG_CACHE_HOME=$R/xdg HOME=$R/home
# The cache: its own store builds the blobs and copies them out.
( export NIX_STORE_DIR=$R/store NIX_STATE_DIR=$R/cache-var NIX_LOG_DIR=$R/cache-var/log NIX_CONF_DIR=$R/cache-conf
  b=$(nix build --no-link --json path:$R/flake#blobs | sed 's/.*"out":"\([^"]*\)".*/\1/')
  nix copy --to file://$R/binary-cache $b )
# Move the cache's store away: the recording store must fetch them.
mv $R/store $R/cache-store
export NIX_STORE_DIR=$R/store NIX_STATE_DIR=$R/var NIX_LOG_DIR=$R/var/log NIX_CONF_DIR=$R/conf
# Each line gets the milliseconds since the start and a tab in front, so a
# replay has the recording's timing (elapsed times, rates).
timeout 120 nix build --keep-going --no-link --json --log-format internal-json -v path:$R/flake#$ATTR 2>&1 >/dev/null |
  perl -MTime::HiRes=time -ne 'BEGIN { $| = 1; $t0 = time } printf "%d\t%s", (time - $t0) * 1000, $_' > "$HERE/../$OUT"
