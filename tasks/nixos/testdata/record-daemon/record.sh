#!/bin/sh
# Records `nix build --log-format internal-json -v` of this flake (copied to
# /tmp/recd/flake, so store paths match the recordings) in a fresh private
# store, through a nix-daemon of its own (MODE=daemon) or directly (local).
# Run as root (a daemon with build-users-group unset must be); KG=--keep-going
# builds what it can. The recordings in ../ were made with Nix 2.8.0:
#   record.sh daemon daemon-build-internal-json.log good
#   KG=--keep-going record.sh daemon daemon-build-failure-internal-json.log broken bad
#   record.sh local build-failure-twice-internal-json.log broken bad
# conf/nix.conf: experimental-features = nix-command flakes, substituters =,
# sandbox = false, build-users-group =, flake-registry =, and
# auto-optimise-store = true (the daemon's "linking …" lines come from it).
set -u
R=/tmp/recd; MODE=$1; OUT=$2; shift 2
if [ -e $R/store ]; then chmod -R u+w $R/store; rm -rf $R/store $R/var $R/cache $R/home; fi
mkdir -p $R/store $R/var $R/cache $R/home
export NIX_STORE_DIR=$R/store NIX_STATE_DIR=$R/var NIX_LOG_DIR=$R/var/log NIX_CONF_DIR=$R/conf XDG_CACHE_HOME=$R/cache HOME=$R/home
if [ $MODE = daemon ]; then
  NIX_REMOTE= setsid nix-daemon > $R/daemon.out 2>&1 & echo $! > $R/daemon.pid
  for i in 1 2 3 4 5 6 7 8 9 10; do [ -S $R/var/daemon-socket/socket ] && break; sleep 0.5; done
  export NIX_REMOTE=daemon
else
  export NIX_REMOTE=
fi
args=""
for a in "$@"; do args="$args path:$R/flake#$a"; done
timeout 120 nix build ${KG:-} --no-link --json --log-format internal-json -v $args 2> $OUT
echo "rc=$?"
if [ $MODE = daemon ]; then kill $(cat $R/daemon.pid); fi
