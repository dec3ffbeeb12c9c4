{
  description = "versioned packages for the rebuild test host";
  outputs = { self }: let
    mk = name: version: kib: builtins.derivation {
      name = "${name}-${version}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" ''
        echo "unpacking ${name}-${version}"
        echo "building ${name}-${version}"
        /bin/mkdir -p $out/share
        echo ${version} > $out/share/version
        /bin/dd if=/dev/zero of=$out/share/data bs=1024 count=${toString kib} 2>/dev/null
        echo "installed ${name}-${version}"
      '' ];
    };
  in {
    demoPackages = {
      foo = mk "foo" "@FOO@" @FOOKIB@;
      bar = mk "bar" "2.0" 48;
      baz = mk "baz" "0.3" 16;
    };
  };
}
