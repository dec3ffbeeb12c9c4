{
  outputs = { self }: let
    mk = name: script: builtins.derivation {
      inherit name;
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" script ];
    };
    # The same file in each package, so auto-optimise-store links them.
    pkg = name: mk name ''
      echo "building ${name}"
      /bin/mkdir -p $out/share/doc
      echo "the same licence text in every package" > $out/share/doc/LICENSE
      echo "${name}" > $out/share/doc/NAME
    '';
    foo = pkg "foo-1.2";
    bar = pkg "bar-2.1";
    broken = mk "broken-1.0" ''
      echo "compiling broken"
      echo "broken.c:1: this package never builds"
      exit 1
    '';
    system = deps: mk "nixos-system-demo" ''
      /bin/mkdir -p $out/bin
      echo "the same licence text in every package" > $out/LICENSE
      echo ${builtins.concatStringsSep " " (map toString deps)} > $out/deps
      echo "assembled nixos-system-demo"
    '';
  in {
    good = system [ foo bar ];
    bad = system [ foo bar broken ];
    inherit broken;
  };
}
