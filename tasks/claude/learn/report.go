package learn

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Report renders suggestions as Markdown, best first: the file written
// when the review cannot ask (no terminal, --yes).
func Report(s []Suggestion, now time.Time, why string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Learning suggestions\n\n")
	fmt.Fprintf(&b, "Written by `rebuild` (learn-review) on %s. %s\n\n", now.Format("2006-01-02 15:04"), why)
	if len(s) == 0 {
		b.WriteString("No suggestions.\n")
		return b.Bytes()
	}
	b.WriteString("Nothing was applied. Run `rebuild --only=learn` in a terminal to review them.\n")
	for i, x := range s {
		fmt.Fprintf(&b, "\n## %d. %s\n\n", i+1, x.Text)
		fmt.Fprintf(&b, "- **Analyzer**: %s · **confidence** %.2f · id `%s`\n", x.Analyzer, x.Confidence, x.ID)
		fmt.Fprintf(&b, "- **Applying** %s\n", x.Apply)
		fmt.Fprintf(&b, "- **Undo**: %s\n", x.Undo)
		if len(x.Sessions) > 0 {
			sessions := x.Sessions
			more := ""
			if len(sessions) > 5 {
				more = fmt.Sprintf(" and %d more", len(sessions)-5)
				sessions = sessions[:5]
			}
			fmt.Fprintf(&b, "- **From sessions**: %s%s\n", strings.Join(sessions, ", "), more)
		}
		if x.Kind == NewCommand && x.Content != "" {
			fmt.Fprintf(&b, "\n```markdown\n%s```\n", ensureNewline(x.Content))
		}
	}
	return b.Bytes()
}

func ensureNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
