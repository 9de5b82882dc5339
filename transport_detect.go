package slo

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmslo/slo/internal/stream"
)

// maxPeek bounds the bytes of a request body read to find its "model".
const maxPeek = 64 << 10

// describe fills the call's provider, operation, model, dialect hint, server
// address and retry count from req. When the request body had to be read to
// be peeked (no GetBody), it returns a replacement body that yields the same
// bytes, and true.
func (c *call) describe(req *http.Request, cfg *transportConfig) (io.ReadCloser, bool) {
	u := req.URL
	host := ""
	if u != nil {
		host = u.Host
	}
	if host == "" {
		host = req.Host
	}
	scheme := ""
	if u != nil {
		scheme = u.Scheme
	}
	c.serverAddr, c.serverPort = splitHostPort(host, scheme)
	c.retryCount = -1
	if v := req.Header.Get("X-Stainless-Retry-Count"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.retryCount = n
		}
	}
	if c.retrieval {
		return nil, false
	}
	path := ""
	if u != nil {
		path = u.Path
	}
	c.provider, c.operation, c.hint = classifyRequest(c.serverAddr, c.serverPort, path, req.Header)
	if cfg.provider != "" {
		c.provider = cfg.provider
	}
	if cfg.operation != "" {
		c.operation = cfg.operation
	}
	body, replaced := c.peekBody(req)
	return body, replaced
}

// splitHostPort returns server.address and server.port; the port defaults
// from the scheme.
func splitHostPort(host, scheme string) (string, int) {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, ""
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	port := 0
	switch {
	case p != "":
		port, _ = strconv.Atoi(p)
	case scheme == "https":
		port = 443
	case scheme == "http":
		port = 80
	}
	return h, port
}

// classifyRequest derives gen_ai.provider.name, gen_ai.operation.name and a
// dialect hint from the server host and port, the URL path and the headers.
// An OpenAI-compatible path on an unknown host (vLLM, LiteLLM and other
// gateways) is reported as provider "openai", the protocol it speaks.
func classifyRequest(host string, port int, path string, h http.Header) (provider, operation string, hint stream.Dialect) {
	operation = "chat"
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		hint = stream.DialectOpenAIChat
	case strings.HasSuffix(path, "/responses"):
		hint = stream.DialectOpenAIResponses
	case strings.HasSuffix(path, "/messages"):
		hint = stream.DialectAnthropic
	case strings.HasSuffix(path, "/api/chat"):
		hint = stream.DialectOllama
	case strings.HasSuffix(path, "/api/generate"):
		hint, operation = stream.DialectOllama, "generate_content"
	case strings.HasSuffix(path, "/api/embed"), strings.HasSuffix(path, "/api/embeddings"):
		hint, operation = stream.DialectOllama, "embeddings"
	case strings.HasSuffix(path, "/embeddings"):
		operation = "embeddings"
	case strings.HasSuffix(path, "/completions"):
		hint, operation = stream.DialectOpenAIChat, "text_completion"
	}
	host = strings.ToLower(host)
	switch {
	case host == "api.openai.com":
		provider = "openai"
	case host == "api.anthropic.com":
		provider = "anthropic"
	case strings.HasSuffix(host, ".openai.azure.com"):
		provider = "azure.ai.openai"
	case strings.HasSuffix(host, ".services.ai.azure.com"), strings.HasSuffix(host, ".inference.ai.azure.com"):
		provider = "azure.ai.inference"
	case host == "generativelanguage.googleapis.com":
		provider = "gcp.gemini"
	case strings.HasSuffix(host, "aiplatform.googleapis.com"):
		provider = "gcp.vertex_ai"
	case strings.HasPrefix(host, "bedrock-runtime.") || strings.HasPrefix(host, "bedrock."):
		provider = "aws.bedrock"
	case host == "api.mistral.ai":
		provider = "mistral_ai"
	case host == "api.groq.com":
		provider = "groq"
	case host == "api.deepseek.com":
		provider = "deepseek"
	case host == "api.x.ai":
		provider = "x_ai"
	case host == "api.perplexity.ai":
		provider = "perplexity"
	case host == "api.cohere.com", host == "api.cohere.ai":
		provider = "cohere"
	}
	if h.Get("Anthropic-Version") != "" || (h.Get("X-Api-Key") != "" && hint == stream.DialectAnthropic) {
		hint = stream.DialectAnthropic
		if provider == "" {
			provider = "anthropic"
		}
	}
	if provider == "" {
		switch {
		case hint == stream.DialectOllama, port == 11434:
			provider = "ollama"
		case hint == stream.DialectAnthropic:
			provider = "anthropic"
		case hint == stream.DialectOpenAIChat, hint == stream.DialectOpenAIResponses, operation == "embeddings":
			provider = "openai"
		}
	}
	return provider, operation, hint
}

// peekBody reads the start of a JSON request body for its "model".
// Through GetBody when there is one (req.Body is then left alone); otherwise
// only a body of known length is read (a body of unknown length may be
// produced interactively), and a replacement body yields the same bytes.
func (c *call) peekBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil, false
	}
	if ct := req.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return nil, false
	}
	bp := c.t.clientState().getPeekBuf()
	defer c.t.clientState().putPeekBuf(bp)
	buf := bp[:]
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil || rc == nil {
			return nil, false
		}
		n, _ := io.ReadFull(rc, buf[:peekLen(req.ContentLength)])
		rc.Close()
		c.model = stream.RequestModel(buf[:n])
		return nil, false
	}
	if req.ContentLength < 0 {
		return nil, false
	}
	n, err := io.ReadFull(req.Body, buf[:peekLen(req.ContentLength)])
	c.model = stream.RequestModel(buf[:n])
	head := bytes.Clone(buf[:n])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return &peekedBody{head: head, err: err, rc: req.Body}, true
	}
	return &peekedBody{head: head, rc: req.Body}, true
}

func peekLen(contentLength int64) int {
	if contentLength > 0 && contentLength < maxPeek {
		return int(contentLength)
	}
	return maxPeek
}

// peekedBody yields the bytes already read from a request body, then the rest.
type peekedBody struct {
	head []byte
	err  error // the error the peek ran into, returned after head
	rc   io.ReadCloser
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.rc.Read(p)
}

func (b *peekedBody) Close() error { return b.rc.Close() }

// parseRetryAfter reads Retry-After (seconds or an HTTP date) or OpenAI's
// retry-after-ms; 0 when absent or invalid. Values are capped at one day.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	const maxRetryAfter = 24 * time.Hour
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return min(time.Duration(ms*float64(time.Millisecond)), maxRetryAfter)
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return min(time.Duration(s*float64(time.Second)), maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}
