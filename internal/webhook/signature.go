package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is the timestamp tolerance [Verify] uses when given 0.
const DefaultTolerance = 5 * time.Minute

// Errors returned by [Verify].
var (
	// ErrNoSignature means the header is empty or has no v1 entry.
	ErrNoSignature = errors.New("webhook: no signature")
	// ErrMalformedSignature means the header is not t=<unix>,v1=<hex>[,v1=...].
	ErrMalformedSignature = errors.New("webhook: malformed signature header")
	// ErrSignatureMismatch means no v1 entry matches the body and secret.
	ErrSignatureMismatch = errors.New("webhook: signature mismatch")
	// ErrTimestampOutOfTolerance means the signed timestamp is too far from now.
	ErrTimestampOutOfTolerance = errors.New("webhook: signature timestamp outside tolerance")
	// ErrEmptySecret means Verify was called without a secret.
	ErrEmptySecret = errors.New("webhook: empty secret")
)

// mac computes the v1 signature of body signed at unix time ts.
func mac(secret []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	var buf [20]byte
	m.Write(strconv.AppendInt(buf[:0], ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the [SignatureHeader] value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>">".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// Verify checks a [SignatureHeader] value against body and secret: one of
// its v1 entries must be the HMAC-SHA256 of "<t>.<body>" (compared in
// constant time), and t must lie within tolerance of now (0 means
// [DefaultTolerance]). Unknown entries are ignored, as are v1 entries that
// are not valid hex. It returns nil or an error wrapping one of the Err*
// values of this package.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return ErrEmptySecret
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts    int64
		haveT bool
		sigs  [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if part == "" && header == "" {
				return ErrNoSignature
			}
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || haveT {
				return ErrMalformedSignature
			}
			ts, haveT = n, true
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	if !haveT {
		return ErrMalformedSignature
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestampOutOfTolerance
	}
	return nil
}
