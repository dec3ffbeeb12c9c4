# NixOS module: programs.rebuild. flake.nix exports it as
# nixosModules.default, with programs.rebuild.package set to the flake's
# package.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    getExe
    escapeShellArgs
    literalExpression
    mkDefault
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    types
    ;

  cfg = config.programs.rebuild;
  settingsFormat = pkgs.formats.toml { };
  metricsFile = "${cfg.metrics.directory}/rebuild.prom";
in
{
  options.programs.rebuild = {
    enable = mkEnableOption "rebuild, which rebuilds NixOS and does the housekeeping around it as a graph of tasks";

    package = mkOption {
      type = types.package;
      default = pkgs.rebuild;
      defaultText = literalExpression "pkgs.rebuild";
      description = ''
        The rebuild package. The flake's nixosModules.default sets it to the
        flake's package; pkgs.rebuild is there with overlays.default.
      '';
    };

    flake = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/home/alice/nixos-config";
      description = ''
        The flake directory rebuild builds (the key `flake` of the
        configuration). A directory you edit, not a store path.
      '';
    };

    settings = mkOption {
      type = settingsFormat.type;
      default = { };
      example = literalExpression ''
        {
          elevate = "sudo";
          keep_logs = 30;
          task.build.timeout = "3h";
          task.generations = { keep = 10; keep_since = "14d"; };
          task.vulnix = { run = "vulnix --system"; after = [ "activate" ]; groups = [ "security" ]; };
        }
      '';
      description = ''
        The system-wide configuration, written to /etc/rebuild/config.toml.
        Every key of the configuration is allowed (see `rebuild config init`);
        an unknown key is an error when rebuild runs. A user's
        ~/.config/rebuild/config.toml, REBUILD_* variables and flags come on
        top of it.
      '';
    };

    clean = {
      enable = mkEnableOption ''
        a periodic cleanup of old system generations: a systemd timer runs
        `rebuild --only generations --yes --output plain` as root. With --yes
        the generations task deletes, without asking, every generation its
        keep policy does not keep (`clean.keep` and `clean.keepSince`, else
        `settings.task.generations`, else the newest 5), then collects
        garbage. The current and the booted generation are never deleted'';

      keep = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = null;
        example = 10;
        description = ''
          The timer's policy: keep the newest N generations. null: the
          policy of `settings.task.generations`, else rebuild's --yes
          default (keep 5). Set here, it applies to the timer only; set in
          `settings.task.generations.keep`, it applies to every run, which
          then deletes by the policy without asking.
        '';
      };

      keepSince = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "14d";
        description = ''
          The timer's policy: also keep the generations younger than this
          age ("7d", "36h", "1d12h"). null: see `clean.keep`.
        '';
      };

      dates = mkOption {
        type = types.str;
        default = "weekly";
        example = "Sun 04:00";
        description = "When to clean, as a systemd calendar expression (systemd.time(7)).";
      };

      extraArgs = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [
          "--jobs"
          "1"
        ];
        description = "More arguments for the cleanup run, after the ones above.";
      };
    };

    metrics = {
      enable = mkEnableOption ''
        Prometheus metrics: after each run, rebuild writes rebuild.prom (last
        run time, success, wall time, each task's duration and state) into
        `metrics.directory` for the node exporter's textfile collector. When
        services.prometheus.exporters.node is enabled, it is pointed at that
        directory'';

      directory = mkOption {
        type = types.str;
        default = "/var/lib/prometheus-node-exporter-text-files";
        description = ''
          The node exporter's textfile directory. It is created writable by
          root and `metrics.group`, since rebuild runs as the user who calls it.
        '';
      };

      group = mkOption {
        type = types.str;
        default = "wheel";
        description = "The group whose members' runs may write the metrics file.";
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.systemPackages = [ cfg.package ];
      environment.etc."rebuild/config.toml" = mkIf (cfg.settings != { }) {
        source = settingsFormat.generate "rebuild-config.toml" cfg.settings;
      };
      programs.rebuild.settings.flake = mkIf (cfg.flake != null) cfg.flake;
    }

    (mkIf cfg.clean.enable {
      systemd.services.rebuild-clean = {
        description = "Delete old NixOS generations outside the keep policy (rebuild)";
        after = [ "multi-user.target" ];
        path = [ config.nix.package ];
        # As root, rebuild needs no elevation. Its logs and history go to
        # /var/lib/rebuild; HOME is root's, for ~ in the configuration. The
        # timer's own policy comes in as REBUILD_TASK__GENERATIONS__*,
        # which wins over the files.
        environment = mkMerge [
          {
            HOME = "/root";
            XDG_STATE_HOME = "/var/lib";
          }
          (mkIf (cfg.clean.keep != null) { REBUILD_TASK__GENERATIONS__KEEP = toString cfg.clean.keep; })
          (mkIf (cfg.clean.keepSince != null) { REBUILD_TASK__GENERATIONS__KEEP_SINCE = cfg.clean.keepSince; })
        ];
        serviceConfig = {
          Type = "oneshot";
          StateDirectory = "rebuild";
          ExecStart = escapeShellArgs (
            [
              (getExe cfg.package)
              "--only"
              "generations"
              "--yes"
              "--output"
              "plain"
            ]
            ++ cfg.clean.extraArgs
          );
        };
      };

      systemd.timers.rebuild-clean = {
        description = "Periodic cleanup of old NixOS generations (rebuild)";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.clean.dates;
          Persistent = true;
        };
      };
    })

    (mkIf cfg.metrics.enable {
      programs.rebuild.settings.metrics_file = mkDefault metricsFile;
      systemd.tmpfiles.rules = [ "d ${cfg.metrics.directory} 2775 root ${cfg.metrics.group} - -" ];
      services.prometheus.exporters.node.extraFlags =
        mkIf config.services.prometheus.exporters.node.enable
          [ "--collector.textfile.directory=${cfg.metrics.directory}" ];
    })
  ]);
}
