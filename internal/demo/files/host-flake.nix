{
  description = "rebuild test host";
  inputs.pkgs.url = "path:@PKGS@";
  outputs = { self, pkgs }: let
    system = "x86_64-linux";
    broken = builtins.derivation {
      name = "broken-1.0"; inherit system; builder = "/bin/sh";
      args = [ "-c" "echo compiling broken >&2; echo '@BROKENLINE@' >&2; exit 1" ];
    };
    slow = builtins.derivation {
      name = "slow-1.0"; inherit system; builder = "/bin/sh";
      args = [ "-c" "echo sleeping; /bin/sleep 600" ];
    };
    extra = @EXTRA@;
  in {
    nixosConfigurations.@HOST@.config.system.build.toplevel = @TOPLEVEL@;
  };
}
