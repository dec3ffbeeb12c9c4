# Calls flake.nix's outputs with the stand-in nixpkgs, for
# cmd/rebuild/packaging_test.go (nixpkgs itself is not reachable offline):
#   nix-instantiate --eval --strict --json nix/tests/flake-outputs.nix
let
  lib = import ./lib.nix;
  flake = import ../../flake.nix;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems (system: import ./pkgs.nix { inherit lib system; });
  };

  # self as Nix passes it: the outputs, plus the revision when the tree
  # is clean (shortRev), or dirtyShortRev when it is not.
  outputsWith =
    rev:
    let
      self = outputs // rev;
      outputs = flake.outputs { inherit self nixpkgs; };
    in
    outputs;
  clean = outputsWith {
    shortRev = "abc1234";
    lastModified = 1764090000;
  };
  dirty = outputsWith { dirtyShortRev = "abc1234-dirty"; };
  unknown = outputsWith { };

  package = p: {
    inherit (p)
      pname
      version
      vendorHash
      subPackages
      ldflags
      postInstall
      doCheck
      ;
    nativeBuildInputs = map (x: x.name) p.nativeBuildInputs;
    mainProgram = p.meta.mainProgram;
  };

  moduleEval =
    module: system:
    (lib.evalModules {
      modules = [
        module
        { programs.rebuild.enable = true; }
      ];
      specialArgs.pkgs = nixpkgs.legacyPackages.${system} // {
        rebuild = throw "pkgs.rebuild used: the flake's module must set its own package";
      };
    }).config.programs.rebuild.package.name;
in
{
  inputs = flake.inputs;
  outputs = builtins.attrNames clean;
  systems = lib.genAttrs [
    "packages"
    "apps"
    "devShells"
    "checks"
  ] (o: builtins.attrNames clean.${o});
  package = package clean.packages.x86_64-linux.default;
  packageAarch64 = package clean.packages.aarch64-linux.default;
  dirtyVersion = dirty.packages.x86_64-linux.default.version;
  unknownVersion = unknown.packages.x86_64-linux.default.version;
  app = clean.apps.x86_64-linux.default;
  devShell = map (p: p.name) clean.devShells.x86_64-linux.default.packages;
  check = clean.checks.x86_64-linux.package.name;
  overlay =
    let
      final = nixpkgs.legacyPackages.x86_64-linux // overlaid;
      overlaid = clean.overlays.default final nixpkgs.legacyPackages.x86_64-linux;
    in
    overlaid.rebuild.name;
  nixosModulePackage = moduleEval clean.nixosModules.default "aarch64-linux";
  homeManagerModulePackage = moduleEval clean.homeManagerModules.default "x86_64-linux";
}
