{
  description = "versioned packages for the rebuild test host";
  outputs = { self }: let
    mk = name: version: kib: slow: builtins.derivation {
      name = "${name}-${version}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" ''
        echo "unpacking ${name}-${version}"
        i=0
        while [ $i -lt ${toString slow} ]; do
          i=$((i + 1)); echo "compiling ${name}-${version}: step $i of ${toString slow}"; /bin/sleep 1
        done
        echo "building ${name}-${version}"
        /bin/mkdir -p $out/share
        echo ${version} > $out/share/version
        /bin/dd if=/dev/zero of=$out/share/data bs=1024 count=${toString kib} 2>/dev/null
        echo "installed ${name}-${version}"
      '' ];
    };
    # A kernel as NixOS's toplevel links it: kernel, initrd and modules
    # (SetKernel changes its version, so the booted system's differs).
    linux = version: builtins.derivation {
      name = "linux-${version}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir -p $out/lib/modules/${version} && echo ${version} > $out/bzImage && echo ${version} > $out/initrd" ];
    };
  in {
    demoPackages = {
      linux = linux "@KERNEL@";
      foo = mk "foo" "@FOO@" @FOOKIB@ @FOOSLOW@;
      bar = mk "bar" "2.0" 48 0;
      baz = mk "baz" "0.3" 16 0;
    };
  };
}
