// Package learn holds the seven analyzers of the learning cycle and the
// suggestions they make. Each analyzer reads its own files (most under
// ~/.claude/learning/, learn-mcp the session logs), streams them line by
// line, counts the lines it could not use, and returns suggestions that
// carry a confidence, what applying them does and how to undo it.
//
// Each byte of a learning file is read once, ever (ledger.go): with a
// state directory (Input.StateDir), an analyzer keeps a ledger of its
// file under claude-learning/ there — a cursor (logcursor: device, inode,
// size, times, the offset of the last complete line, a hash of bytes
// before it), the lines counted, and each record of the window reduced to
// a few bytes (record.go: its time, its strings by index, a number, the
// optional values set) in file order — and a run reads only the bytes
// appended since, and appends their records to the ledger (a logcursor
// journal, written whole again when pruned or once the appended records
// outweigh half of it). A file truncated or replaced is read again, one
// deleted drops its ledger. Folding the window's records in file order is what a
// full read did, so the report is the same, byte for byte.
//
// Windows stay exact: a ledger keeps every record from a day before its
// window on (records older than the window by two days are pruned),
// rather than aggregates by day, because a window starts at any instant
// (now minus so many days), so the day it starts in would need its
// records anyway; because summing relevances by day would change the
// order of a floating-point sum; and because the two analyzers with most
// records group by keys (sessions) of about as many values as there are
// records, so aggregates would be no smaller. A window starting earlier
// than a ledger's horizon (days raised) reads the file again.
//
// Lines are decoded by a jsonscan.Parser (shape.decode), which accepts and
// rejects exactly the lines encoding/json did, so the malformed-line
// counts are the same.
//
// Analyzers are read-only, with one exception the design asks for:
// learn-meta rewrites thresholds.json (not in a dry run). Applying a
// suggestion is the review's business (package claude, learn-review);
// this package describes each change precisely enough for it to be
// applied (Kind and the fields it names) and never touches the files the
// suggestions are about.
//
// Files and formats (one JSON object per line; unknown keys ignored;
// "timestamp" is RFC 3339, an ISO time without zone (UTC), or Unix seconds):
//
//	permission_approvals.jsonl  {"timestamp","permission","session_id","project_path"}
//	context_usage.jsonl         {"timestamp","section_name","tokens_in_section","relevance_score","session_id"}
//	workflow_commands.jsonl     {"timestamp","command","session_id","success","duration_ms","project_path"?}
//	policy_violations.jsonl     {"timestamp","policy","violated"?,"session_id"}  (violated defaults to true)
//	project_patterns.jsonl      {"timestamp","project_path","project_type","pattern_type","pattern","session_id"?}
//	meta_metrics.jsonl          {"timestamp","component","suggestion_type","accepted","confidence"}
//	suggestion_rejections.jsonl {"timestamp","suggestion_id","analyzer","text"}
//	thresholds.json             {"min_occurrences":3,"confidence":0.7,"days":30,
//	                             "analyzers":{"learn-mcp":{"min_occurrences":4,"confidence":0.75}}}
package learn
