// Command rebuild rebuilds a NixOS machine and does the housekeeping
// around it as a concurrent graph of tasks. See `rebuild --help`.
package main

import "os"

func main() { os.Exit(Main()) }
