# A stand-in for the parts of nixpkgs' lib that flake.nix and the modules
# use, so the tests can evaluate them with nix-instantiate offline (nixpkgs
# is not reachable there). It follows lib's semantics for what is used:
#
#   - mkIf / mkMerge / mkOverride (mkDefault) are pushed down into
#     attribute sets without evaluating their conditions, discharged at each
#     option, and only the definitions of the highest priority are merged;
#   - an option's default is a definition of priority 1500;
#   - str, int, bool and package options must agree when defined twice,
#     lists are concatenated, TOML values merge table by table;
#   - config paths that no module declares are merged the same generic way.
#
# It is a test fixture, not a module system: no submodules, no
# assertions, no documentation.
let
  inherit (builtins)
    all
    any
    attrNames
    concatLists
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    head
    isAttrs
    isBool
    isFloat
    isFunction
    isInt
    isList
    isPath
    isString
    listToAttrs
    map
    mapAttrs
    match
    replaceStrings
    toJSON
    ;

  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  showLoc = loc: concatStringsSep "." loc;
  typeOfValue = v: (v._type or null);

  # Properties ---------------------------------------------------------

  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };

  # pushDown turns properties around an attribute set into properties
  # around each of its values, without evaluating any condition.
  pushDown =
    v:
    let
      t = typeOfValue v;
    in
    if t == "merge" then
      concatMap pushDown v.contents
    else if t == "if" then
      map (mapAttrs (_: x: mkIf v.condition x)) (pushDown v.content)
    else if t == "override" then
      map (mapAttrs (_: x: mkOverride v.priority x)) (pushDown v.content)
    else
      [ v ];

  discharge =
    v:
    let
      t = typeOfValue v;
    in
    if t == "merge" then
      concatMap discharge v.contents
    else if t == "if" then
      (if v.condition then discharge v.content else [ ])
    else
      [ v ];

  priorityOf = v: if typeOfValue v == "override" then v.priority else 100;
  stripOverride = v: if typeOfValue v == "override" then v.content else v;

  # resolve: the definitions that count, as plain values.
  resolve =
    defs:
    let
      ds = concatMap discharge defs;
      best = foldl' (m: v: if priorityOf v < m then priorityOf v else m) 9999 ds;
    in
    map stripOverride (filter (v: priorityOf v == best) ds);

  # isTree: a definition that is an attribute set to merge key by key
  # (looking through properties without evaluating conditions).
  isTree =
    v:
    let
      t = typeOfValue v;
    in
    if t == "if" || t == "override" then
      isTree v.content
    else if t == "merge" then
      all isTree v.contents
    else
      isAttrs v && t == null && !(v ? outPath);

  mergeEqual =
    loc: vals:
    if all (v: v == head vals) vals then
      head vals
    else
      throw "The option `${showLoc loc}' has conflicting definition values: ${toJSON vals}";

  # Types --------------------------------------------------------------

  mkType = name: check: merge: { inherit name check merge; };
  simple = name: check: mkType name check mergeEqual;

  types = rec {
    bool = simple "boolean" isBool;
    str = simple "string" isString;
    int = simple "signed integer" isInt;
    ints.unsigned = simple "unsigned integer, meaning >=0" (v: isInt v && v >= 0);
    package = simple "package" (v: isAttrs v && v ? outPath);
    listOf = elemType: mkType "list of ${elemType.name}" (v: isList v && all elemType.check v) (_: concatLists);
    nullOr =
      elemType:
      mkType "null or ${elemType.name}" (v: v == null || elemType.check v) (
        loc: vals:
        if all (v: v == null) vals then
          null
        else if any (v: v == null) vals then
          throw "The option `${showLoc loc}' is defined both null and not null"
        else
          elemType.merge loc vals
      );

    # The value type of pkgs.formats.toml: tables merge key by key (with
    # properties inside them), arrays concatenate, the rest must agree.
    tomlValue =
      let
        check =
          v:
          isString v
          || isBool v
          || isInt v
          || isFloat v
          || (isList v && all check v)
          || (isAttrs v && typeOfValue v == null && all (n: check v.${n}) (attrNames v))
          || (isAttrs v && typeOfValue v != null);
        merge =
          loc: vals:
          if all isAttrs vals then
            let
              names = unique (concatMap attrNames vals);
              sub =
                n:
                let
                  defs = resolve (concatMap (v: if v ? ${n} then [ v.${n} ] else [ ]) vals);
                in
                if defs == [ ] then null else merge (loc ++ [ n ]) defs;
              merged = listToAttrs (
                map (n: {
                  name = n;
                  value = sub n;
                }) names
              );
            in
            removeNulls merged
          else if all isList vals then
            concatLists vals
          else
            mergeEqual loc vals;
        removeNulls = a: listToAttrs (map (n: { name = n; value = a.${n}; }) (filter (n: a.${n} != null) (attrNames a)));
      in
      mkType "TOML value" check merge;
  };

  # Module evaluation --------------------------------------------------

  isOption = v: typeOfValue v == "option";

  mergeOption =
    loc: decl: defs:
    let
      withDefault = defs ++ (if decl ? default then [ (mkOverride 1500 decl.default) ] else [ ]);
      vals = resolve withDefault;
      bad = filter (v: !decl.type.check v) vals;
    in
    if vals == [ ] then
      throw "The option `${showLoc loc}' is used but not defined."
    else if bad != [ ] then
      throw "A definition for option `${showLoc loc}' is not of type `${decl.type.name}': ${toJSON (head bad)}"
    else
      decl.type.merge loc vals;

  # mergeDeclared merges under a declared subtree: its names are fixed by
  # the declarations and the definitions' structure, never by conditions.
  mergeDeclared =
    loc: decl: defs:
    let
      pushed = concatMap pushDown defs;
      names = unique (attrNames decl ++ concatMap attrNames pushed);
      defsOf = n: concatMap (d: if d ? ${n} then [ d.${n} ] else [ ]) pushed;
      child =
        n:
        if decl ? ${n} then
          (if isOption decl.${n} then mergeOption (loc ++ [ n ]) decl.${n} (defsOf n) else mergeDeclared (loc ++ [ n ]) decl.${n} (defsOf n))
        else
          mergeFree (loc ++ [ n ]) (defsOf n);
    in
    listToAttrs (
      map (n: {
        name = n;
        value = child n;
      }) names
    );

  # mergeFree merges a path no module declares; null when nothing is
  # defined there once conditions are evaluated.
  mergeFree =
    loc: defs:
    if defs != [ ] && all isTree defs then
      let
        pushed = concatMap pushDown defs;
        names = unique (concatMap attrNames pushed);
        defsOf = n: concatMap (d: if d ? ${n} then [ d.${n} ] else [ ]) pushed;
        kept = filter (x: x.value != null) (
          map (n: {
            name = n;
            value = mergeFree (loc ++ [ n ]) (defsOf n);
          }) names
        );
      in
      if kept == [ ] then null else listToAttrs kept
    else
      let
        vals = resolve defs;
      in
      if vals == [ ] then
        null
      else if all isList vals then
        concatLists vals
      else
        mergeEqual loc vals;

  # evalModules: modules are functions, attribute sets or paths; a module
  # without options and config is all config (the shorthand form).
  evalModules =
    {
      modules,
      specialArgs ? { },
    }:
    let
      args = specialArgs // {
        inherit config;
        lib = self;
        options = declarations;
      };
      load =
        m:
        let
          fn = if isPath m || isString m then import m else m;
          applied = if isFunction fn then fn args else fn;
          full = applied ? options || applied ? config;
          imported = concatMap load (applied.imports or [ ]);
        in
        [
          {
            options = applied.options or { };
            config = if full then applied.config or { } else removeAttrs applied [ "imports" "_file" "key" ];
          }
        ]
        ++ imported;
      loaded = concatMap load modules;
      mergeDecls =
        a: b:
        a
        // mapAttrs (
          n: v: if a ? ${n} && !(isOption v) && !(isOption a.${n}) then mergeDecls a.${n} v else v
        ) b;
      declarations = foldl' mergeDecls { } (map (m: m.options) loaded);
      config = mergeDeclared [ ] declarations (map (m: m.config) loaded);
    in
    {
      inherit config;
      options = declarations;
    };

  # Strings ------------------------------------------------------------

  escapeShellArg =
    arg:
    let
      s = toString arg;
    in
    if match "[[:alnum:],._+:@%/-]+" s == null then "'${replaceStrings [ "'" ] [ "'\\''" ] s}'" else s;

  self = {
    inherit
      mkIf
      mkMerge
      mkOverride
      types
      evalModules
      escapeShellArg
      ;
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption =
      name:
      self.mkOption {
        type = types.bool;
        default = false;
        example = true;
        description = "Whether to enable ${name}.";
      };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    escapeShellArgs = args: concatStringsSep " " (map escapeShellArg args);
    getExe = x: "${x}/bin/${x.meta.mainProgram}";
    optionalString = cond: s: if cond then s else "";
    genAttrs =
      names: f:
      listToAttrs (
        map (n: {
          name = n;
          value = f n;
        }) names
      );
    platforms.linux = [
      "x86_64-linux"
      "aarch64-linux"
    ];
    # Never forced by the tests: the package's src is not evaluated.
    fileset = {
      toSource = { root, fileset }: root;
      unions = sets: sets;
      fileFilter = _: root: root;
    };
  };
in
self
