package housekeeping

import (
	"fmt"

	"github.com/rebuild-nixos/rebuild/tasks"
	"github.com/rebuild-nixos/rebuild/tasks/fsutil"
)

// Size is a size option: a string such as "100MB" or "5M" (see
// fsutil.ParseSize), or a whole number of bytes. Text is as written, to
// show.
type Size struct {
	Bytes int64
	Text  string
}

const allowedSize = `a size such as "100MB", "5M" or a number of bytes`

// SetOption implements tasks.OptionValue.
func (s *Size) SetOption(raw any) error {
	var text string
	switch x := raw.(type) {
	case string:
		text = x
	case int64:
		text = fmt.Sprint(x)
	default:
		return &tasks.Invalid{Msg: "not a size", Allowed: allowedSize}
	}
	n, err := fsutil.ParseSize(text)
	if err != nil {
		return &tasks.Invalid{Msg: err.Error(), Allowed: allowedSize}
	}
	*s = Size{Bytes: n, Text: text}
	return nil
}

// OptionTOML implements tasks.OptionValue.
func (s *Size) OptionTOML() any { return s.Text }

// mustSize is a Size for a default.
func mustSize(text string) Size {
	var s Size
	if err := s.SetOption(text); err != nil {
		panic(err)
	}
	return s
}
