# The NixOS options the module reads, declared as NixOS declares them, so
# the stand-in evaluation knows their defaults.
{ lib, pkgs, ... }:
{
  options = {
    nix.package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.nix;
    };
    services.prometheus.exporters.node = {
      enable = lib.mkEnableOption "the node exporter";
      extraFlags = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
      };
    };
  };
}
