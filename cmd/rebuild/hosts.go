package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebuild-nixos/rebuild/config"
	"github.com/rebuild-nixos/rebuild/internal/hostname"
	"github.com/rebuild-nixos/rebuild/internal/suggest"
	"github.com/rebuild-nixos/rebuild/internal/table"
)

// The hosts of a run: the [host.NAME] tables, all of them or those --on
// picks, and `rebuild hosts`, which lists them.

// hostsHelp is how hosts are configured, for the messages of a run
// without them.
const hostsHelp = `hosts are configured with [host.NAME] tables (target = "user@addr", build_on, tags, …; see rebuild config init)`

// selectHosts returns the hosts of the run in order: those --on names
// (on, a comma list of host names and @tags, in its order, a tag's hosts
// by name), else every host by name; nil without [host.NAME] tables.
// --on without hosts, an empty item, a malformed one, an unknown host or
// tag is a usage error that lists what there is.
func selectHosts(cfg *config.Config, on string) ([]config.Host, error) {
	names := slices.Sorted(maps.Keys(cfg.Hosts))
	if strings.TrimSpace(on) == "" {
		out := make([]config.Host, 0, len(names))
		for _, n := range names {
			out = append(out, cfg.Hosts[n])
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	if len(cfg.Hosts) == 0 {
		return nil, usagef("--on %s: there are no hosts to choose from: this run has one, this machine (%s); %s", on, cfg.Host, hostsHelp)
	}
	tags := hostTags(cfg)
	var picked []string
	for _, item := range strings.Split(on, ",") {
		item = strings.TrimSpace(item)
		var matches []string
		switch tag, isTag := strings.CutPrefix(item, "@"); {
		case item == "":
			return nil, usagef("--on %q: empty item", on)
		case isTag:
			if !config.IsName(tag) {
				return nil, usagef("--on %q: item %q: a tag is kebab-case, e.g. @servers", on, item)
			}
			for _, n := range names {
				if slices.Contains(cfg.Hosts[n].Tags, tag) {
					matches = append(matches, n)
				}
			}
		default:
			if p := hostname.Problem(item); p != "" {
				return nil, usagef("--on %q: item %q %s", on, item, p)
			}
			if _, ok := cfg.Hosts[item]; ok {
				matches = []string{item}
			}
		}
		if len(matches) == 0 {
			return nil, unknownHost(item, names, tags)
		}
		for _, n := range matches {
			if !slices.Contains(picked, n) {
				picked = append(picked, n)
			}
		}
	}
	out := make([]config.Host, len(picked))
	for i, n := range picked {
		out[i] = cfg.Hosts[n]
	}
	return out, nil
}

// hostTags are the tags of every host, as --on writes them (@servers), sorted.
func hostTags(cfg *config.Config) []string {
	var tags []string
	for _, h := range cfg.Hosts {
		for _, t := range h.Tags {
			if !slices.Contains(tags, "@"+t) {
				tags = append(tags, "@"+t)
			}
		}
	}
	slices.Sort(tags)
	return tags
}

// unknownHost is --on's error for an item that is no host and no tag,
// in the style of --only's.
func unknownHost(item string, names, tags []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown host or tag %q", item)
	if s := suggest.Closest(item, append(slices.Clone(names), tags...)); s != "" {
		fmt.Fprintf(&b, " (did you mean %q?)", s)
	}
	b.WriteString("; valid: hosts " + strings.Join(names, ", "))
	if len(tags) > 0 {
		b.WriteString("; tags " + strings.Join(tags, ", "))
	} else {
		b.WriteString("; no tags (a host's tags = [\"servers\"] is @servers)")
	}
	return usagef("%s", b.String())
}

// hostNames are the names of hosts, in their order.
func hostNames(hosts []config.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// hostsOptions are the flags of `rebuild hosts`.
type hostsOptions struct {
	IO   *IOStreams
	Sys  *System
	Load loadOptions
	// On is --on: which hosts a run with it would act on.
	On   string
	JSON bool
}

func newHostsCmd(f *Factory, runF func(*hostsOptions) error) *cobra.Command {
	o := &hostsOptions{IO: f.IO, Sys: f.Sys}
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "List the hosts: name, target, where each is built, tags, elevation, and which --on selects",
		Long: `List the hosts of the configuration, the [host.NAME] tables: each host's
name (its nixosConfigurations.NAME), target (local, or user@addr[:port]
over SSH), where it is built (local, target, or another host), its tags
(--on @TAG) and how root is gained there. SELECTED says which hosts a run
with the same --on would act on (every host without --on).

Without [host.NAME] tables there is one host, this machine.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fl := cmd.Flags().Lookup("on"); fl.Changed && strings.TrimSpace(o.On) == "" {
				return usagef("--on is empty: give host names or @tags, separated by commas")
			}
			o.Load = f.loadOptions(cmd, 0)
			if runF != nil {
				return runF(o)
			}
			return hostsRun(o)
		},
	}
	cmd.Flags().StringVar(&o.On, "on", "", "mark the hosts this selects: comma list of host names and @tags")
	_ = cmd.RegisterFlagCompletionFunc("on", completeHosts(f))
	cmd.Flags().BoolVar(&o.JSON, "json", false, "one JSON object per host")
	return cmd
}

// hostJSON is one line of `rebuild hosts --json`.
type hostJSON struct {
	Name     string   `json:"name"`
	Target   string   `json:"target"`
	BuildOn  string   `json:"build_on"`
	Tags     []string `json:"tags"`
	Elevate  string   `json:"elevate"`
	Selected bool     `json:"selected"`
	Local    bool     `json:"local"`
}

func hostsRun(o *hostsOptions) error {
	cfg, err := loadConfig(o.Sys, o.Load)
	if err != nil {
		return err
	}
	selected, err := selectHosts(cfg, o.On)
	if err != nil {
		return err
	}
	if len(cfg.Hosts) == 0 {
		return writeNoHosts(o, cfg)
	}
	var list []hostJSON
	for _, name := range slices.Sorted(maps.Keys(cfg.Hosts)) {
		h := cfg.Hosts[name]
		list = append(list, hostJSON{Name: name, Target: h.Target, BuildOn: h.BuildOn, Tags: nonNilStrings(h.Tags),
			Elevate: hostElevation(h, cfg.Elevate), Selected: slices.Contains(hostNames(selected), name), Local: h.IsLocal()})
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		for _, h := range list {
			if err := enc.Encode(h); err != nil {
				return err
			}
		}
		return nil
	}
	rows := [][]string{{"HOST", "TARGET", "BUILD ON", "TAGS", "ELEVATE", "SELECTED"}}
	for _, h := range list {
		sel := "no"
		if h.Selected {
			sel = "yes"
		}
		tags := "-"
		if len(h.Tags) > 0 {
			tags = "@" + strings.Join(h.Tags, ",@")
		}
		rows = append(rows, []string{h.Name, h.Target, h.BuildOn, tags, h.Elevate, sel})
	}
	_, err = io.WriteString(o.IO.Out, table.Layout(rows, table.Options{}))
	return err
}

// writeNoHosts says that the run has one host, this machine.
func writeNoHosts(o *hostsOptions, cfg *config.Config) error {
	if o.JSON {
		return json.NewEncoder(o.IO.Out).Encode(hostJSON{Name: cfg.Host, Target: config.TargetLocal, BuildOn: config.BuildLocal,
			Tags: []string{}, Elevate: cfg.Elevate, Selected: true, Local: true})
	}
	_, err := fmt.Fprintf(o.IO.Out, "one host: this machine, nixosConfigurations.%s (host = %q; -H NAME for another)\n%s.\n", cfg.Host, cfg.Host, upperFirst(hostsHelp))
	return err
}

// completeHosts completes --on with host names and @tags, after the last
// comma of what was typed.
func completeHosts(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, typed string) ([]string, cobra.ShellCompDirective) {
		cfg, err := loadConfig(f.Sys, f.loadOptions(cmd, 0))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix := ""
		if i := strings.LastIndexByte(typed, ','); i >= 0 {
			prefix = typed[:i+1]
		}
		var out []string
		for _, n := range slices.Sorted(maps.Keys(cfg.Hosts)) {
			out = append(out, prefix+n)
		}
		for _, t := range hostTags(cfg) {
			out = append(out, prefix+t)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// hostElevation is how root is gained on h as it will be: its own
// elevate, else the top-level one, and none on a root@ target (nothing to
// gain, proc.RemoteElevation adds no prefix), so the list does not show
// a sudo that never runs.
func hostElevation(h config.Host, top string) string {
	if !h.IsLocal() {
		if t, err := config.ParseTarget(h.Target); err == nil && t.User == "root" {
			return "none"
		}
	}
	return cmp.Or(h.Elevate, top)
}
