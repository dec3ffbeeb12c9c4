package mcpusage

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/rebuild-nixos/rebuild/tasks/claude/jsonscan"
)

// refLine is how the scan decoded a line with encoding/json before
// parseLine: the oracle parseLine must agree with, line for line.
type refLine struct {
	Timestamp string `json:"timestamp"`
	Cwd       string `json:"cwd"`
	Message   *struct {
		ID      string      `json:"id"`
		Content refContents `json:"content"`
		Usage   *Usage      `json:"usage"`
	} `json:"message"`
}

var (
	toolUse  = []byte(`"tool_use"`)
	usageKey = []byte(`"usage"`)
)

// refItem is one block of message.content as encoding/json decodes it.
type refItem struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type refContents []refItem

func (c *refContents) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' && bytes.Contains(b, toolUse) {
		var items []refItem
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		*c = items
	}
	return nil
}

func refParse(line []byte) (refLine, error) {
	var l refLine
	if bytes.Contains(line, usageKey) || bytes.Contains(line, toolUse) {
		err := json.Unmarshal(line, &l)
		return l, err
	}
	var lt struct {
		Timestamp string `json:"timestamp"`
		Cwd       string `json:"cwd"`
	}
	err := json.Unmarshal(line, &lt)
	l.Timestamp, l.Cwd = lt.Timestamp, lt.Cwd
	return l, err
}

// agree fails t when parseLine and encoding/json differ on line.
func agree(t *testing.T, line []byte) {
	t.Helper()
	want, werr := refParse(line)
	var got parsedLine
	gerr := parseLine(line, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json error %v, parseLine error %v", line, werr, gerr)
	}
	if werr != nil {
		return
	}
	if string(got.Timestamp) != want.Timestamp || string(got.Cwd) != want.Cwd {
		t.Fatalf("%q: timestamp/cwd %q %q, want %q %q", line, got.Timestamp, got.Cwd, want.Timestamp, want.Cwd)
	}
	if got.HasMessage != (want.Message != nil) {
		t.Fatalf("%q: message %v, want %v", line, got.HasMessage, want.Message != nil)
	}
	if want.Message == nil {
		return
	}
	m := want.Message
	if string(got.ID) != m.ID || got.HasUsage != (m.Usage != nil) || (m.Usage != nil && got.Usage != *m.Usage) {
		t.Fatalf("%q: message %q %v %+v, want %q %+v", line, got.ID, got.HasUsage, got.Usage, m.ID, m.Usage)
	}
	var content []refItem
	for _, it := range got.Content {
		content = append(content, refItem{string(it.Type), string(it.ID), string(it.Name)})
	}
	if (got.Content == nil) != (m.Content == nil) || !slices.Equal(content, []refItem(m.Content)) {
		t.Fatalf("%q: content %q, want %+v", line, got.Content, m.Content)
	}
}

var parseSeeds = []string{
	`{"timestamp":"2025-01-01T00:00:00Z","cwd":"/p","type":"user","message":{"role":"user","content":"hi"}}`,
	`{"timestamp":"t","cwd":"/p","message":{"id":"m","content":[{"type":"tool_use","id":"x","name":"mcp__a__b","input":{}}],"usage":{"input_tokens":1,"output_tokens":2,"cache_read_input_tokens":3,"cache_creation_input_tokens":4}}}`,
	`{"timestamp":"x","other":"bad` + "\x01" + `"}`,
	`{"timestamp":"x","a":[1,2,]}`,
	`{"timestamp":"x","a":{"b" 1}}`,
	`{"timestamp":"x","a":"\q"}`,
	`{"timestamp":"x","a":tru}`,
	`{"timestamp":"x","a":01}`,
	`{"timestamp":"x","a":1}x`,
	`{"timestamp":"x","a":-}`,
	`{"timestamp":"x","a":"\u12"}`,
	`{"timestamp":"x","a":1.5e+3,"b":-0.0,"c":[true,false,null]}`,
	`null`, `[]`, `5`, `"s"`, `{}`, ` { } `, `{"timestamp":5}`, `{"timestamp":null,"cwd":"\u00e9\ud800"}`,
	`{"Timestamp":"a","TIMESTAMP":"b","cwd":"c","CWD":"d"}`,
	`{"time\u0073tamp":"e"}`,
	`{"timeſtamp":"fold"}`,
	`{"message":{"usage":{"input_tokens":1.5}}}`,
	`{"message":{"usage":{"input_tokens":"1"}}}`,
	`{"message":{"usage":{"input_tokens":99999999999999999999}}}`,
	`{"message":{"usage":{"input_tokens":1},"usage":{"output_tokens":2}}}`,
	`{"message":{"usage":{"input_tokens":1},"usage":null,"usage":{"output_tokens":2}}}`,
	`{"message":{"id":"a"},"message":{"usage":{"input_tokens":3}}}`,
	`{"message":{"id":"a"},"message":null,"message":{"usage":{}}}`,
	`{"message":5,"usage":1}`,
	`{"message":{"content":[{"type":"tool_use","id":"1","name":"n"}],"content":[{"type":"text"}]},"usage":{}}`,
	`{"message":{"content":[null,{"type":"tool_use"}]}}`,
	`{"message":{"content":[1,"tool_use"]}}`,
	`{"message":{"content":"tool_use"}}`,
	`{"message":{"content":{"type":"tool_use"}}}`,
	`{"message":{"content":[{"type":5,"name":"tool_use"}]}}`,
	"{\"cwd\":\"\xff\xfe\",\"timestamp\":\"t\"}",
	`{"message":{"id":null,"usage":null,"content":null},"x":"tool_use"}`,
	`{"a":[[[[[[]]]]]],"timestamp":"deep"}`,
	`{"a" : 1 , "timestamp" : "sp" }`,
	`{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{"a":1 "b":2}`, `[1 2]`, `"\uD834\uDD1E"`,
	// Whether the message is read is known only at the end of the line.
	`{"message":5}`, `{"message":{"id":5}}`, `{"message":{"id":5},"a":"tool_use"}`, `{"usage":1,"message":{"id":5}}`,
	`{"message":{"id":5},"z":[{"k":"tool_use"}]}`, `{"message":{"id":5},"a":"\"usage\""}`, `{"message":{"id":5},"a":"us\u0061ge"}`,
	`{"a":"x\\","message":{"id":5},"b":"usage"}`, `{"message":{"id":"m","usage":null},"message":{"id":7}}`,
	`{"message":{"content":[{"type":"tool_use","id":1}]}}`, `{"message":{"content":[{"type":"text","id":1}],"usage":{}}}`,
	`{"message":{"content":[{"type":"tool\u005fuse","name":"mcp__a__b"}],"x":"usage"}}`, `{"timestamp":"usage","message":{"id":[]}}`,
	// A list read once: kept only when it mentions "tool_use", its type
	// errors dropped when it does not, an earlier list's items kept.
	`{"message":{"content":[{"type":"text","id":5}],"usage":{}}}`, `{"message":{"content":[{"type":"text","id":5},"tool_use"]}}`,
	`{"message":{"content":[{"type":"tool_use","id":"a"}],"content":[{"type":"text","id":"b"}]}}`,
	`{"message":{"content":[{"type":"tool_use","id":"a"}],"content":[{"type":"tool_use","id":"b"},{"name":"c"}]}}`,
	`{"message":{"content":[{"type":"tool_use","id":"a"}]},"message":null,"message":{"content":[{"type":"tool_use","id":"b"}]}}`,
	`{"message":{"content":[{"type":"tool_use","id":"a\u0062"},null,{}]}}`, `{"message":{"content":[]},"x":"tool_use"}`,
	`{"message":{"content":[{"type":"text"}]},"x":"tool_use"}`, `{"message":{"content":[{"type":"tool_use"}],"content":5}}`,
}

func TestParseLineAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range parseSeeds {
		agree(t, []byte(s))
	}
	deep := bytes.Repeat([]byte("["), jsonscan.MaxDepth+1)
	agree(t, append(append([]byte(`{"timestamp":"t","a":`), deep...), append(bytes.Repeat([]byte("]"), jsonscan.MaxDepth+1), '}')...))
	agree(t, append(append([]byte(`{"timestamp":"t","a":`), deep[1:]...), append(bytes.Repeat([]byte("]"), jsonscan.MaxDepth), '}')...))
}

func FuzzParseLine(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { agree(t, line) })
}
