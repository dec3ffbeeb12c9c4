// Package safefile opens, creates and removes files in a directory that
// someone else may be able to change: rebuild's state directory (lock,
// history, logs) and the files tasks rewrite in a user's home.
//
// It owns three rules:
//   - a file is opened relative to a pinned directory (openat) and never
//     through a symbolic link in its place (O_NOFOLLOW), and only a regular
//     file with one link is written: a link planted in a state directory
//     cannot make a root run truncate or append to another file;
//   - run as root, what it creates in a directory that belongs to another
//     user is given to that user (the directory's owner and group), so a
//     root run with a user's XDG directories leaves nothing the user cannot
//     write on the next run;
//   - a state directory must belong to the user running rebuild or to
//     root, and must not be writable by everyone (CheckOwner).
//
// It is a leaf: it imports nothing of this project's but internal/exitcode,
// so schedule, render and the tasks may all use it.
package safefile
