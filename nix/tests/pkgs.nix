# A stand-in for the parts of nixpkgs' pkgs that flake.nix and the modules
# use. Packages are attribute sets with an outPath; buildGoModule returns
# its arguments, so a test can read what the flake passes it.
# formats.toml writes TOML with a small writer of its own (nixpkgs' uses
# remarshal): the same data, tables in sorted order.
{
  lib,
  system ? "x86_64-linux",
}:

let
  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isString
    match
    toJSON
    ;

  fakePackage = name: {
    inherit name;
    pname = name;
    type = "derivation";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = name;
  };

  # toTOML: top-level keys first, then one [table] per table that holds
  # values; arrays of tables are written inline.
  toTOML =
    value:
    let
      key = k: if match "[A-Za-z0-9_-]+" k != null then k else toJSON k;
      scalar =
        v:
        if isString v then
          toJSON v
        else if isBool v then
          (if v then "true" else "false")
        else if isInt v || isFloat v then
          toString v
        else if isList v then
          "[${concatStringsSep ", " (map scalar v)}]"
        else if isAttrs v then
          "{ ${concatStringsSep ", " (map (n: "${key n} = ${scalar v.${n}}") (attrNames v))} }"
        else if v == null then
          throw "TOML has no null: leave the key out"
        else
          throw "cannot write a ${builtins.typeOf v} as TOML";
      table =
        path: attrs:
        let
          names = attrNames attrs;
          plain = filter (n: !isAttrs attrs.${n}) names;
          subs = filter (n: isAttrs attrs.${n}) names;
          header = if path == [ ] then "" else "[${concatStringsSep "." (map key path)}]\n";
          body = concatStringsSep "" (map (n: "${key n} = ${scalar attrs.${n}}\n") plain);
          own = if path != [ ] && plain == [ ] && subs != [ ] then "" else header + body;
        in
        filter (s: s != "") ([ own ] ++ builtins.concatLists (map (n: table (path ++ [ n ]) attrs.${n}) subs));
    in
    concatStringsSep "\n" (table [ ] value);
in
{
  inherit system;
  rebuild = fakePackage "rebuild";
  nix = fakePackage "nix";
  go = fakePackage "go";
  gopls = fakePackage "gopls";
  graphviz = fakePackage "graphviz";
  tmux = fakePackage "tmux";
  installShellFiles = fakePackage "installShellFiles";

  stdenv = {
    hostPlatform = {
      inherit system;
      canExecute = _: true;
    };
    buildPlatform = {
      inherit system;
      canExecute = _: true;
    };
  };

  buildGoModule = args: fakePackage "${args.pname}-${args.version}" // args;

  mkShell = args: args // fakePackage "nix-shell";

  formats.toml =
    { }:
    {
      type = lib.types.tomlValue;
      generate =
        name: value:
        fakePackage name
        // {
          text = toTOML value;
        };
    };
}
// {
  # callPackage passes the arguments a function asks for, from this set
  # and the overrides.
  callPackage =
    fn: overrides:
    let
      f = import fn;
      pkgs = import ./pkgs.nix { inherit lib system; };
      auto = builtins.intersectAttrs (builtins.functionArgs f) (pkgs // { inherit lib; });
    in
    f (auto // overrides);
}
