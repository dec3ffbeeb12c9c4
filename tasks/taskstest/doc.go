// Package taskstest holds the fakes and file-tree helpers that the tests
// of the task families share: a scripted tasks.Prompter (prompter.go), a
// log buffer safe for concurrent writers (buffer.go), and helpers that
// plant files and links and list a tree to compare before and after
// (files.go).
//
// It is for tests only: no package that ends up in the rebuild binary may
// import it. It imports
// nothing of this project's but package tasks, so the tests of every
// family (and of fsutil) can use it without an import cycle; proc's own
// tests cannot, as tasks imports proc.
package taskstest
