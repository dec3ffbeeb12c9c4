// Package learn holds the seven analyzers of the learning cycle and the
// suggestions they make. Each analyzer reads its own files (most under
// ~/.claude/learning/, learn-mcp the session logs), streams them line by
// line, counts the lines it could not use, and returns suggestions that
// carry a confidence, what applying them does and how to undo it.
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
