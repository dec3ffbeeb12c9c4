# home-manager module: programs.rebuild. flake.nix exports it as
# homeManagerModules.default, with programs.rebuild.package set to the
# flake's package.
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
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    types
    ;

  cfg = config.programs.rebuild;
  settingsFormat = pkgs.formats.toml { };
in
{
  options.programs.rebuild = {
    enable = mkEnableOption "rebuild, which rebuilds NixOS and does the housekeeping around it as a graph of tasks";

    package = mkOption {
      type = types.package;
      default = pkgs.rebuild;
      defaultText = literalExpression "pkgs.rebuild";
      description = ''
        The rebuild package. The flake's homeManagerModules.default sets it
        to the flake's package; pkgs.rebuild is there with overlays.default.
      '';
    };

    settings = mkOption {
      type = settingsFormat.type;
      default = { };
      example = literalExpression ''
        {
          flake = "~/nixos-config";
          task.caches.paths = [ "~/.cache/uv" "~/.npm" ];
          task.lint = { run = "statix check ."; groups = [ "checks" ]; };
        }
      '';
      description = ''
        Your configuration, written to $XDG_CONFIG_HOME/rebuild/config.toml
        (on top of /etc/rebuild/config.toml). Every key of the configuration
        is allowed (see `rebuild config init`); an unknown key is an error
        when rebuild runs.
      '';
    };

    cleanup = {
      enable = mkEnableOption ''
        a periodic cleanup of caches and backups: a systemd user timer runs
        `rebuild --only=caches,backups --yes --output plain`. With --yes the
        tasks clean without asking, by their policies in `settings.task.caches`
        and `settings.task.backups`'';

      dates = mkOption {
        type = types.str;
        default = "weekly";
        example = "Sun 04:00";
        description = "When to clean, as a systemd calendar expression (systemd.time(7)).";
      };

      extraArgs = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "More arguments for the cleanup run.";
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      home.packages = [ cfg.package ];
      xdg.configFile."rebuild/config.toml" = mkIf (cfg.settings != { }) {
        source = settingsFormat.generate "rebuild-config.toml" cfg.settings;
      };
    }

    (mkIf cfg.cleanup.enable {
      systemd.user.services.rebuild-cleanup = {
        Unit.Description = "Clean caches and backups by their policies (rebuild)";
        Service = {
          Type = "oneshot";
          ExecStart = escapeShellArgs (
            [
              (getExe cfg.package)
              "--only"
              "caches,backups"
              "--yes"
              "--output"
              "plain"
            ]
            ++ cfg.cleanup.extraArgs
          );
        };
      };

      systemd.user.timers.rebuild-cleanup = {
        Unit.Description = "Periodic cleanup of caches and backups (rebuild)";
        Timer = {
          OnCalendar = cfg.cleanup.dates;
          Persistent = true;
        };
        Install.WantedBy = [ "timers.target" ];
      };
    })
  ]);
}
