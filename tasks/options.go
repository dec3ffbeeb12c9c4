package tasks

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/text"
)

// Configurable is a built-in task with typed options: a struct whose
// fields carry `option:"key"` and `doc:"…"` tags, with defaults, and
// possibly a Check method. The catalogue binds every enabled task to its
// options before the first task starts, so a bad option stops the run
// before anything changed, naming where it was set.
//
// A Configurable as registered (in a family's Specs) runs with its
// defaults.
type Configurable interface {
	Task
	// Configure returns a copy of the task that runs with t's options (t
	// is its [task.NAME] table): the defaults, overridden by what t sets,
	// checked. It is DecodeOptions over the defaults, and its errors.
	Configure(t config.Task) (Task, error)
	// TaskOptions returns the options struct the task runs with.
	TaskOptions() any
}

// EdgeAdjuster is a configured task whose options change its place in the
// graph: activate waits for diff only when it shows the diff (--ask). It
// is called on the task's spec once its options are bound, before the
// graph is built.
type EdgeAdjuster interface {
	AdjustEdges(s *Spec)
}

// Checker is implemented by an options struct that checks more than each
// value's type: ranges, one of a set of words, how two options relate.
// Check returns a BadOption error naming the key at fault.
type Checker interface {
	Check() error
}

// OptionValue is implemented (on its pointer) by an option type that
// reads its own value, such as a size ("100MiB") or an age ("7d").
type OptionValue interface {
	// SetOption reads raw as the configuration holds it: as TOML gave it
	// (string, int64, float64, bool, []any) or, from the environment or a
	// flag, as a string. A refusal is an *Invalid (or any error, whose
	// text becomes the message).
	SetOption(raw any) error
	// OptionTOML returns the value as TOML would hold it, for `rebuild
	// config show` and `init`.
	OptionTOML() any
}

// Given records which options were set by a layer (file, environment,
// flag) rather than left to their default, and by which. An options
// struct with a field of this type (untagged) gets it filled in by
// DecodeOptions: some tasks treat a value set on purpose differently (a
// folder configured explicitly may be outside the home directory), and
// name where it was set when it turns out wrong at run time.
type Given map[string]string

// Has reports whether key was set.
func (g Given) Has(key string) bool { return g[key] != "" }

// Source returns the layer that set key (see config.Task.Source);
// "defaults" when none did.
func (g Given) Source(key string) string {
	if s := g[key]; s != "" {
		return s
	}
	return config.SourceDefaults
}

// Invalid is a value an options check refuses. DecodeOptions turns it
// into a *config.Error that names the layer that set the key.
type Invalid struct {
	Key     string // the option; empty from SetOption (the decoder knows it)
	Value   any    // the value refused; nil from SetOption (the raw value is shown)
	Msg     string // what is wrong
	Allowed string // what would be accepted
}

func (e *Invalid) Error() string {
	s := e.Msg
	if e.Key != "" {
		s = fmt.Sprintf("%s = %v: %s", e.Key, e.Value, e.Msg)
	}
	if e.Allowed != "" {
		s += "; allowed: " + e.Allowed
	}
	return s
}

// BadOption is the error a Check returns for option key's value.
func BadOption(key string, value any, msg, allowed string) error {
	return &Invalid{Key: key, Value: value, Msg: msg, Allowed: allowed}
}

// OneOf is the Check of an option that takes one of a few words (a
// policy): v, the value of key, must be one of allowed.
func OneOf(key, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return BadOption(key, v, "not a known value", text.Quoted(allowed))
	}
	return nil
}

// DecodeOptions reads the options t sets into *dst, a struct that holds
// the defaults, and then runs its Check, if it has one. A key t sets that
// no field is tagged with, a value of the wrong type and a value Check
// refuses are each a *config.Error naming the layer that set it (file,
// "environment" with the variable, "flag --NAME"), the key, the value and
// what is allowed.
//
// Field types: string, []string, int, bool, a type whose pointer is an
// OptionValue, and pointers to any of these (nil while unset: for an
// option whose absence means something of its own).
func DecodeOptions(t config.Task, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("tasks.DecodeOptions: %T is not a pointer to a struct", dst))
	}
	v = v.Elem()
	fields := optionFields(v.Type())
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	if err := t.CheckOptions(keys...); err != nil {
		return err
	}
	given := Given{}
	for _, f := range fields {
		raw, set := t.Options[f.key]
		if !set {
			continue
		}
		given[f.key] = t.Source(f.key)
		if err := decodeField(t, f.key, raw, v.FieldByIndex(f.index)); err != nil {
			return err
		}
	}
	for i := range v.NumField() {
		if v.Type().Field(i).Type == givenType {
			v.Field(i).Set(reflect.ValueOf(given))
		}
	}
	if c, ok := dst.(Checker); ok {
		if err := c.Check(); err != nil {
			return locate(t, "", nil, err)
		}
	}
	return nil
}

// DescribeOptions returns c's options with their defaults, in the order
// of its struct, for `rebuild config show` and `init`.
func DescribeOptions(c Configurable) []config.OptionDoc {
	d, err := c.Configure(config.Task{})
	if err != nil {
		// Defaults that fail their own check are a bug of the task,
		// which the catalogue's tests catch.
		panic(fmt.Sprintf("tasks: the default options of %T: %v", c, err))
	}
	v := reflect.ValueOf(d.(Configurable).TaskOptions())
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	// An addressable copy: OptionValue's methods are on the pointer.
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	v = cp
	var out []config.OptionDoc
	for _, f := range optionFields(v.Type()) {
		out = append(out, config.OptionDoc{Key: f.key, Default: tomlValue(v.FieldByIndex(f.index)), Doc: f.doc})
	}
	return out
}

// TypedOptions returns the options t sets, decoded by c's options
// struct and given back as TOML holds them (int64, bool, string,
// []string): a value the environment gave as text ("3") is shown as what
// it means (3), so that `rebuild config show` writes TOML that loads back.
// Keys t sets that c has no field for are left out (Configure refuses
// them).
func TypedOptions(c Configurable, t config.Task) (map[string]any, error) {
	d, err := c.Configure(t)
	if err != nil {
		return nil, err
	}
	v := reflect.ValueOf(d.(Configurable).TaskOptions())
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	out := map[string]any{}
	for _, f := range optionFields(cp.Type()) {
		if _, set := t.Options[f.key]; set {
			if val := tomlValue(cp.FieldByIndex(f.index)); val != nil {
				out[f.key] = val
			}
		}
	}
	return out, nil
}

// optionField is one tagged field of an options struct.
type optionField struct {
	key, doc string
	index    []int
}

var (
	givenType   = reflect.TypeFor[Given]()
	stringType  = reflect.TypeFor[string]()
	stringsType = reflect.TypeFor[[]string]()
	intType     = reflect.TypeFor[int]()
	boolType    = reflect.TypeFor[bool]()
	valueType   = reflect.TypeFor[OptionValue]()
)

// optionFields lists the tagged fields of an options struct, those of
// embedded structs included. A field type the decoder cannot read is a
// bug of the task: it panics, at the first Configure, which every task's
// tests reach.
func optionFields(t reflect.Type) []optionField {
	var out []optionField
	for _, sf := range reflect.VisibleFields(t) {
		key, ok := sf.Tag.Lookup("option")
		if !ok {
			continue
		}
		if !sf.IsExported() || !supported(sf.Type) {
			panic(fmt.Sprintf("tasks: option %s (%s.%s): type %s cannot be decoded", key, t, sf.Name, sf.Type))
		}
		if slices.ContainsFunc(out, func(f optionField) bool { return f.key == key }) || !config.IsName(strings.ReplaceAll(key, "_", "-")) {
			panic(fmt.Sprintf("tasks: option %q of %s: a duplicate, or not a lower-case key", key, t))
		}
		out = append(out, optionField{key: key, doc: sf.Tag.Get("doc"), index: sf.Index})
	}
	return out
}

func supported(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(valueType) {
		return true
	}
	switch t {
	case stringType, stringsType, intType, boolType:
		return true
	}
	return t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Pointer && supported(t.Elem())
}

// decodeField reads raw, the value of key, into fv.
func decodeField(t config.Task, key string, raw any, fv reflect.Value) error {
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := decodeField(t, key, raw, p.Elem()); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if ov, ok := fv.Addr().Interface().(OptionValue); ok {
		if err := ov.SetOption(raw); err != nil {
			return locate(t, key, raw, err)
		}
		return nil
	}
	var (
		val any
		err error
	)
	switch fv.Type() {
	case stringType:
		val, err = t.String(key, "")
	case stringsType:
		val, err = t.Strings(key, nil)
	case intType:
		val, err = t.Int(key, 0)
	case boolType:
		val, err = t.Bool(key, false)
	}
	if err != nil {
		return err
	}
	fv.Set(reflect.ValueOf(val))
	return nil
}

// locate turns a refusal into a *config.Error naming the layer that set
// the key. key and raw stand in for what an *Invalid from SetOption
// leaves out.
func locate(t config.Task, key string, raw any, err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce
	}
	var inv *Invalid
	if !errors.As(err, &inv) {
		inv = &Invalid{Msg: err.Error()}
	}
	k, v := inv.Key, inv.Value
	if k == "" {
		k, v = key, raw
	}
	if k == "" {
		file := t.File
		if file == "" {
			file = config.SourceDefaults
		}
		return &config.Error{File: file, Key: "task." + t.Name, Msg: fmt.Sprintf("task.%s: %s", t.Name, inv.Error()), Err: err}
	}
	return t.OptionError(k, v, inv.Msg, inv.Allowed)
}

// tomlValue is fv as TOML holds it; nil for an unset pointer or a nil list.
func tomlValue(fv reflect.Value) any {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	if ov, ok := fv.Addr().Interface().(OptionValue); ok {
		return ov.OptionTOML()
	}
	switch x := fv.Interface().(type) {
	case int:
		return int64(x)
	case []string:
		if x == nil {
			return nil
		}
		return append([]string{}, x...)
	default:
		return x
	}
}
