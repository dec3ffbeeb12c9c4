{
  description = "rebuild: rebuild NixOS and do the housekeeping around it, as a concurrent graph of tasks";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = self.shortRev or self.dirtyShortRev or "dirty";
      rebuildFor =
        pkgs:
        pkgs.callPackage ./nix/package.nix {
          inherit version;
          lastModified = self.lastModified or 0;
        };
      packageFor = pkgs: self.packages.${pkgs.stdenv.hostPlatform.system}.default;
    in
    {
      packages = forAllSystems (pkgs: {
        default = rebuildFor pkgs;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = lib.getExe (packageFor pkgs);
          meta.description = "Run rebuild from this flake";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            go
            gopls
            graphviz
            nix
            tmux
          ];
        };
      });

      # `nix flake check` builds the package (and with it the completions
      # and the man page, which the binary generates).
      checks = forAllSystems (pkgs: {
        package = packageFor pkgs;
      });

      overlays.default = final: _prev: {
        rebuild = rebuildFor final;
      };

      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/nixos-module.nix ];
          programs.rebuild.package = lib.mkDefault (packageFor pkgs);
        };

      homeManagerModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/home-manager-module.nix ];
          programs.rebuild.package = lib.mkDefault (packageFor pkgs);
        };
    };
}
