# Evaluates nix/home-manager-module.nix with the stand-in lib and pkgs, for
# cmd/rebuild/packaging_test.go:
#   nix-instantiate --eval --strict --json nix/tests/home-manager.nix
let
  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { inherit lib; };
  eval =
    config:
    (lib.evalModules {
      modules = [
        ../home-manager-module.nix
        config
      ];
      specialArgs = { inherit pkgs; };
    }).config;

  show = c: {
    configToml = c.xdg.configFile."rebuild/config.toml".source.text or null;
    packages = map (p: p.name) (c.home.packages or [ ]);
    service = c.systemd.user.services.rebuild-cleanup or null;
    timer = c.systemd.user.timers.rebuild-cleanup or null;
  };
in
{
  full = show (eval {
    programs.rebuild = {
      enable = true;
      settings = {
        flake = "~/nixos-config";
        task.lint = {
          run = "statix check .";
          groups = [ "checks" ];
        };
      };
      cleanup = {
        enable = true;
        dates = "daily";
      };
    };
  });

  # No settings: no file, so /etc/rebuild/config.toml alone applies.
  bare = show (eval { programs.rebuild.enable = true; });

  disabled = show (eval { programs.rebuild.settings.flake = "~/nixos-config"; });
}
