builtins.derivation {
      name = "nixos-system-${host}";
      inherit system host lockout;
      builder = "/bin/sh";
      args = [ ./toplevel.sh ];
      packages = [ pkgs.demoPackages.foo pkgs.demoPackages.bar pkgs.demoPackages.baz ] ++ extra;
      switch = ./switch-to-configuration;
      kernel = pkgs.demoPackages.linux;
      inhibitors = ''{"systemd":"@INHIBIT@"}'';
    }
