{
  # The recording flake of record.sh: a system that needs several
  # derivations built at once (one of which fails), and big paths that
  # come from a binary cache (a second local store), so the log has
  # running builds with phases, downloads with sizes and a failure.
  outputs = { self }:
    let
      sys = "x86_64-linux";
      # A builder with phases and log lines, as stdenv would report them
      # (Nix reports a phase when the builder prints "@nix {"action":"setPhase"…}").
      slow = name: secs: fail: builtins.derivation {
        inherit name;
        system = sys;
        builder = "/bin/sh";
        args = [ "-c" ''
          echo '@nix {"action":"setPhase","phase":"unpackPhase"}'
          echo "unpacking sources of ${name}"
          /bin/sleep 1
          echo '@nix {"action":"setPhase","phase":"buildPhase"}'
          i=0; while [ $i -lt ${toString secs} ]; do echo "compiling ${name} part $i"; /bin/sleep 1; i=$((i+1)); done
          ${if fail then ''echo "error: ${name}: undefined reference to 'frobnicate'"; exit 1'' else ""}
          echo '@nix {"action":"setPhase","phase":"installPhase"}'
          /bin/mkdir -p $out; echo ${name} > $out/name
        '' ];
      };
      # A path big enough that copying it from the cache reports progress.
      blob = name: mb: builtins.derivation {
        inherit name;
        system = sys;
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir -p $out && /usr/bin/head -c ${toString (mb * 1024 * 1024)} /dev/urandom > $out/data" ];
      };
      blobs = [ (blob "glibc-2.35" 6) (blob "linux-firmware-20220509" 12) (blob "python3-3.10.4" 4) ];
      system = ok: builtins.derivation {
        name = "nixos-system-demo";
        system = sys;
        builder = "/bin/sh";
        deps = blobs ++ [ (slow "foo-1.2" 3 false) (slow "bar-2.1232" 5 false) (slow "firefox-133.0" 6 false) ]
          ++ (if ok then [] else [ (slow "broken-0.1" 2 true) ]);
        args = [ "-c" "/bin/mkdir -p $out && echo $deps > $out/deps" ];
      };
    in {
      blobs = builtins.derivation { name = "blobs"; system = sys; builder = "/bin/sh"; deps = blobs;
        args = [ "-c" "echo $deps > $out" ]; };
      good = system true;
      broken = system false;
    };
}
