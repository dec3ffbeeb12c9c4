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
    # The toplevel of one host: it records the host's name; lockout = "1"
    # makes its switch-to-configuration stop that host's sshd.
    toplevel = host: extra: lockout: @TOPLEVEL@;
  in {
    nixosConfigurations = {
@HOSTS@
    };
  };
}
