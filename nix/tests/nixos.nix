# Evaluates nix/nixos-module.nix with the stand-in lib and pkgs, for
# cmd/rebuild/packaging_test.go:
#   nix-instantiate --eval --strict --json nix/tests/nixos.nix
let
  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { inherit lib; };
  eval =
    config:
    (lib.evalModules {
      modules = [
        ./nixos-base.nix
        ../nixos-module.nix
        config
      ];
      specialArgs = { inherit pkgs; };
    }).config;

  # What the checks read of an evaluated system.
  show = c: {
    configToml = c.environment.etc."rebuild/config.toml".source.text or null;
    systemPackages = map (p: p.name) (c.environment.systemPackages or [ ]);
    service = c.systemd.services.rebuild-clean or null;
    timer = c.systemd.timers.rebuild-clean or null;
    tmpfiles = c.systemd.tmpfiles.rules or [ ];
    nodeExporterFlags = c.services.prometheus.exporters.node.extraFlags;
  };
in
{
  # Everything on: the flake option, settings with user tasks and a
  # generations policy, the cleanup timer with a policy of its own and
  # extra arguments, the metrics with the node exporter enabled.
  full = show (eval {
    programs.rebuild = {
      enable = true;
      flake = "/home/alice/nixos-config";
      settings = {
        elevate = "none";
        keep_logs = 30;
        task.generations.keep_since = "14d";
        task.generations.keep = 10;
        task.lint = {
          run = "statix check .";
          groups = [ "checks" ];
          after = [ "format" ];
        };
        task.format = {
          run = "nixfmt --check .";
          groups = [ "checks" ];
        };
      };
      clean = {
        enable = true;
        keep = 3;
        keepSince = "30d";
        dates = "Sun 04:00";
        extraArgs = [
          "--jobs"
          "1"
        ];
      };
      metrics.enable = true;
    };
    services.prometheus.exporters.node.enable = true;
  });

  # Top-level keys and a user task only.
  accepted = show (eval {
    programs.rebuild = {
      enable = true;
      flake = "/home/alice/nixos-config";
      settings = {
        jobs = 6;
        task.lint = {
          run = "statix check .";
          groups = [ "checks" ];
        };
      };
      metrics.enable = true;
    };
  });

  # clean.enable alone: no file, no policy of the timer's own (the --yes
  # default applies), weekly.
  cleanDefaults = show (eval {
    programs.rebuild = {
      enable = true;
      clean.enable = true;
    };
  });

  # The timer's own policy only: keep the newest generation (and, always,
  # the current and the booted one).
  keepOne = show (eval {
    programs.rebuild = {
      enable = true;
      clean = {
        enable = true;
        keep = 1;
      };
    };
  });

  # Not enabled: nothing in /etc, no units, the node exporter untouched.
  disabled = show (eval {
    programs.rebuild.flake = "/home/alice/nixos-config";
    services.prometheus.exporters.node.enable = true;
  });
}
