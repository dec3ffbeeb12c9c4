# The rebuild package, for flake.nix (packages.default, overlays.default).
#
# vendorHash is the NAR hash of what `go mod vendor` writes, which is what
# buildGoModule checks. It changes with go.mod, go.sum and the imports of
# the code: run `make vendor-hash` after changing any of them (it rewrites
# the line below). `go test ./cmd/rebuild` computes the same hash and fails
# while this one is stale, so a forgotten update is caught before Nix sees it.
{
  lib,
  stdenv,
  buildGoModule,
  installShellFiles,
  version ? "dirty",
  # Unix time of the last commit (the flake's lastModified), for the date
  # of the man page; 0 keeps Nix's SOURCE_DATE_EPOCH.
  lastModified ? 0,
}:

buildGoModule {
  pname = "rebuild";
  inherit version;

  # Only what the Go build reads: go.mod, go.sum, the .go files and what
  # they //go:embed (a README or nix/ change does not rebuild the package).
  # A package that starts to use //go:embed needs its files added here.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../go.mod
      ../go.sum
      (lib.fileset.fileFilter (file: file.hasExt "go") ../.)
      ../internal/demo/files
    ];
  };

  vendorHash = "sha256-j0R1+lvSjcdvKT77/rgRgX4KshdNaCH448kdb/QD9fU=";

  subPackages = [ "cmd/rebuild" ];
  ldflags = [
    "-s"
    "-w"
    "-X main.version=${version}"
  ];

  nativeBuildInputs = [ installShellFiles ];

  # The tests drive real Nix, tmux and Graphviz, need a writable HOME and
  # take minutes; they run with `make test` and in CI (.ci/run), not here.
  doCheck = false;

  # Completions and the man page come from the binary itself, so they are
  # always true to its command line.
  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd rebuild \
      --bash <($out/bin/rebuild completion bash) \
      --zsh <($out/bin/rebuild completion zsh) \
      --fish <($out/bin/rebuild completion fish)
    ${lib.optionalString (lastModified > 0) "SOURCE_DATE_EPOCH=${toString lastModified} "}$out/bin/rebuild man > rebuild.1
    installManPage rebuild.1
  '';

  meta = {
    description = "Rebuild NixOS and do the housekeeping around it, as a concurrent graph of tasks";
    mainProgram = "rebuild";
    platforms = lib.platforms.linux;
  };
}
