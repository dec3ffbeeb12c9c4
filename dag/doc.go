// Package dag owns the graph model of a rebuild: it builds the graph of tasks
// from their declared edges, validates it (duplicate names, edges to unknown
// tasks, cycles, printed whole), selects the subgraph asked for with --only
// and --skip, orders it (a stable topological order, waves, the longest path
// to the end that the scheduler uses for priorities, the critical path) and
// draws it as text, Graphviz DOT, Mermaid and JSON.
//
// A task of a run over several hosts is named NAME@HOST (build@web1): dag
// checks both parts, selects every host's instance by NAME, and draws each
// host's tasks together. What a host is, it does not know.
//
// A Graph is built once with Build and never changes afterwards; every method
// is safe for concurrent use, and every result is a fresh copy the caller may
// keep or modify. Every output is byte-for-byte stable across runs: it is
// sorted by the graph's Order, never by map iteration order.
//
// Storage and validation during Build go through github.com/dominikbraun/graph;
// what it lacks (a priority Kahn order, printing a whole cycle, selection with
// derived edges) is written here.
//
// This package must never run a task, print to a terminal or read the
// environment, and it must never import another package of this project
// but leaf helpers under internal/ (its errors' exit codes, the "did you
// mean"): the scheduler
// imports dag, not the other way round. Drawing functions write to the
// io.Writer they are given.
package dag
