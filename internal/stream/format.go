package stream

import (
	"bytes"
	"strings"
)

// Format is the framing of a response body.
type Format uint8

const (
	// FormatUnknown means no body byte has been seen yet (or only whitespace).
	FormatUnknown Format = iota
	// FormatSSE is a text/event-stream body (Server-Sent Events).
	FormatSSE
	// FormatNDJSON is one JSON value per line (application/x-ndjson, Ollama).
	FormatNDJSON
	// FormatJSON is a single, non-streaming JSON body, decoded at Close.
	FormatJSON
	// FormatText is any other body; each non-empty Write is one output chunk.
	FormatText
)

// String returns "unknown", "sse", "ndjson", "json" or "text".
func (f Format) String() string {
	switch f {
	case FormatSSE:
		return "sse"
	case FormatNDJSON:
		return "ndjson"
	case FormatJSON:
		return "json"
	case FormatText:
		return "text"
	}
	return "unknown"
}

// Dialect is the provider protocol carried inside the framing.
type Dialect uint8

const (
	// DialectUnknown means the protocol is not (yet) recognised.
	DialectUnknown Dialect = iota
	// DialectOpenAIChat is OpenAI chat completions (and compatible servers).
	DialectOpenAIChat
	// DialectOpenAIResponses is the OpenAI Responses API.
	DialectOpenAIResponses
	// DialectAnthropic is the Anthropic Messages API.
	DialectAnthropic
	// DialectOllama is Ollama's native /api/chat and /api/generate.
	DialectOllama
)

// String returns "unknown", "openai_chat", "openai_responses", "anthropic" or "ollama".
func (d Dialect) String() string {
	switch d {
	case DialectOpenAIChat:
		return "openai_chat"
	case DialectOpenAIResponses:
		return "openai_responses"
	case DialectAnthropic:
		return "anthropic"
	case DialectOllama:
		return "ollama"
	}
	return "unknown"
}

// formatFromContentType maps a Content-Type header value to a Format, or
// FormatUnknown when the body must be sniffed.
func formatFromContentType(ct string) Format {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case ct == "":
		return FormatUnknown
	case strings.EqualFold(ct, "text/event-stream"):
		return FormatSSE
	case strings.EqualFold(ct, "application/x-ndjson"),
		strings.EqualFold(ct, "application/ndjson"),
		strings.EqualFold(ct, "application/jsonl"),
		strings.EqualFold(ct, "application/x-jsonl"),
		strings.EqualFold(ct, "application/jsonlines"),
		strings.EqualFold(ct, "application/x-jsonlines"):
		return FormatNDJSON
	case strings.EqualFold(ct, "application/json"),
		len(ct) > 5 && strings.EqualFold(ct[len(ct)-5:], "+json"):
		return FormatJSON
	case strings.EqualFold(ct, "text/plain"):
		return FormatText
	}
	return FormatUnknown
}

const bom = "\xEF\xBB\xBF"

// sniffFormat decides the format from the first bytes of a body, starting at
// its first non-whitespace byte. ok is false while s is too short to decide.
// A body starting with '{' is reported as FormatJSON: the caller turns it into
// FormatNDJSON when a second line starts with '{'.
func sniffFormat(s []byte) (f Format, ok bool) {
	if len(s) == 0 {
		return FormatUnknown, false
	}
	switch s[0] {
	case ':':
		return FormatSSE, true
	case '{':
		return FormatJSON, true
	}
	more := false
	for _, kw := range [...]string{"data:", "event:", "id:", "retry:"} {
		n := min(len(s), len(kw))
		if string(s[:n]) == kw[:n] {
			if n == len(kw) {
				return FormatSSE, true
			}
			more = true
		}
	}
	if more {
		return FormatUnknown, false
	}
	return FormatText, true
}

// DetectFormat returns the format of a body from its Content-Type and, when
// that does not decide, its first bytes: "data:", "event:", "id:", "retry:"
// or ":" mean SSE; "{" means NDJSON when a second line starts with "{", else
// JSON; anything else is text. A leading UTF-8 byte order mark and
// whitespace are skipped. It returns FormatUnknown when firstBytes are empty
// or too short to decide (a prefix of "data:", for example).
func DetectFormat(contentType string, firstBytes []byte) Format {
	if f := formatFromContentType(contentType); f != FormatUnknown {
		return f
	}
	b := bytes.TrimPrefix(firstBytes, []byte(bom))
	b = b[skipWS(b, 0):]
	f, ok := sniffFormat(b[:min(len(b), 8)])
	if !ok {
		return FormatUnknown
	}
	if f == FormatJSON {
		if k := bytes.IndexByte(b, '\n'); k >= 0 {
			rest := b[k+1:]
			if i := skipWS(rest, 0); i < len(rest) && rest[i] == '{' {
				return FormatNDJSON
			}
		}
	}
	return f
}

// DialectFromPath returns the dialect a request path implies, for use as the
// hint of NewObserver: ".../chat/completions" and ".../completions" (OpenAI
// chat and legacy completions, also served by vLLM, Ollama's /v1 and most
// gateways), ".../responses" (OpenAI Responses), ".../messages" (Anthropic),
// "/api/chat" and "/api/generate" (Ollama). Anything else is DialectUnknown.
func DialectFromPath(path string) Dialect {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimRight(path, "/")
	switch {
	case strings.HasSuffix(path, "/chat/completions"), strings.HasSuffix(path, "/completions"):
		return DialectOpenAIChat
	case strings.HasSuffix(path, "/responses"):
		return DialectOpenAIResponses
	case strings.HasSuffix(path, "/messages"):
		return DialectAnthropic
	case strings.HasSuffix(path, "/api/chat"), strings.HasSuffix(path, "/api/generate"):
		return DialectOllama
	}
	return DialectUnknown
}
