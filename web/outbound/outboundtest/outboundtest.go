// Package outboundtest records a provider client's exchanges in tests: an
// outbound.NewClient whose Recorder's sink collects them, with a spy under
// the recorder that notes every credential and token the client sends or
// receives as sent, so a test can check that none of them reached any
// field of a recorded exchange.
//
// Only _test.go files import it.
package outboundtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/outbound"
)

// Recorded is a recording outbound client and what it recorded.
type Recorded struct {
	Client *http.Client // outbound.NewClient with Rec
	Rec    *outbound.Recorder

	mu       sync.Mutex
	xs       []outbound.Exchange
	secrets  map[string]bool
	requests int
}

// New returns an outbound client recording into a collecting sink, closed
// when the test ends. log is the client's logger (nil: discarded).
func New(tb testing.TB, log *slog.Logger) *Recorded {
	tb.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorded{secrets: map[string]bool{}}
	r.Rec = outbound.NewRecorder(func(_ context.Context, x outbound.Exchange) error {
		r.mu.Lock()
		r.xs = append(r.xs, x)
		r.mu.Unlock()
		return nil
	}, log, nil)
	tb.Cleanup(r.Rec.Close)
	r.Client = outbound.NewClient(log, 10*time.Second, r.Rec)
	rt := r.Client.Transport.(*outbound.Recording)
	rt.Next = &spy{next: rt.Next, r: r}
	return r
}

// Exchanges is every exchange recorded so far, once the recorder has
// stored them.
func (r *Recorded) Exchanges(tb testing.TB) []outbound.Exchange {
	tb.Helper()
	if err := r.Rec.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outbound.Exchange(nil), r.xs...)
}

// Requests is how many requests went out under the recorder.
func (r *Recorded) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Secrets are the credentials and tokens the spy saw go out or come in.
func (r *Recorded) Secrets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for s := range r.secrets {
		out = append(out, s)
	}
	return out
}

// NoSecretRecorded fails the test when any secret the spy saw, or any of
// extra (the configured credentials), is in any field of any recorded
// exchange, as is or URL-encoded. It returns how many secrets it checked.
func (r *Recorded) NoSecretRecorded(tb testing.TB, extra ...string) int {
	tb.Helper()
	secrets := append(r.Secrets(), extra...)
	xs := r.Exchanges(tb)
	n := 0
	for _, s := range secrets {
		if len(s) < 6 {
			continue // too short to tell from other text; none of the providers' are
		}
		n++
		for i, x := range xs {
			for name, v := range Fields(x) {
				if strings.Contains(v, s) || strings.Contains(v, url.QueryEscape(s)) {
					tb.Errorf("exchange %d (%s %s) holds a secret (…%s) in %s", i, x.Provider, x.Operation, s[len(s)-4:], name)
				}
			}
		}
	}
	return n
}

// Fields is every text field of x by name, its headers as "Name: value"
// lines: what a stored exchange holds beyond numbers and times.
func Fields(x outbound.Exchange) map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(x)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		switch fv := v.Field(i).Interface().(type) {
		case string:
			out[f.Name] = fv
		case http.Header:
			var b strings.Builder
			for k, vs := range fv {
				for _, s := range vs {
					b.WriteString(k + ": " + s + "\n")
				}
			}
			out[f.Name] = b.String()
		}
	}
	return out
}

// secretHeaders are request headers that carry a credential.
var secretHeaders = []string{"Client_secret", "Ocp-Apim-Subscription-Key", "X-Api-Key"}

// secretFields are the form and JSON fields that carry a credential, a
// token or a code.
var secretFields = map[string]bool{"client_secret": true, "code": true, "code_verifier": true, "refresh_token": true,
	"access_token": true, "id_token": true, "token": true, "client_token": true, "authorization_token": true,
	"customer_token": true, "klarna_access_token": true, "token_id": true, "password": true}

// spy notes the secrets of each request and its answer, as sent and
// received.
type spy struct {
	next http.RoundTripper
	r    *Recorded
}

func (s *spy) RoundTrip(req *http.Request) (*http.Response, error) {
	var found []string
	if scheme, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		found = append(found, cred)
		if strings.EqualFold(scheme, "Basic") {
			if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
				if _, pass, ok := strings.Cut(string(raw), ":"); ok {
					found = append(found, pass)
					if p, err := url.QueryUnescape(pass); err == nil {
						found = append(found, p)
					}
				}
			}
		}
	}
	for _, h := range secretHeaders {
		if v := req.Header.Get(h); v != "" {
			found = append(found, v)
		}
	}
	for k, vs := range req.URL.Query() {
		if secretFields[k] {
			found = append(found, vs...)
		}
	}
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			found = append(found, secretsIn(b)...)
		}
	}
	res, err := s.next.RoundTrip(req)
	if err == nil {
		b, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(b))
		if rerr == nil {
			found = append(found, secretsIn(b)...)
		}
	}
	s.r.mu.Lock()
	s.r.requests++
	for _, f := range found {
		if f != "" {
			s.r.secrets[f] = true
		}
	}
	s.r.mu.Unlock()
	return res, err
}

// secretsIn finds secret fields' values in a JSON or form body.
func secretsIn(b []byte) []string {
	var out []string
	var v any
	if json.Unmarshal(b, &v) == nil {
		walk(v, "", &out)
		return out
	}
	if q, err := url.ParseQuery(string(b)); err == nil {
		for k, vs := range q {
			if secretFields[k] {
				out = append(out, vs...)
			}
		}
	}
	return out
}

func walk(v any, key string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walk(e, k, out)
		}
	case []any:
		for _, e := range v {
			walk(e, key, out)
		}
	case string:
		// "code" in JSON is an error code, not the OAuth code.
		if secretFields[key] && key != "code" {
			*out = append(*out, v)
		}
		if u, err := url.Parse(v); err == nil && u.RawQuery != "" {
			for k, vs := range u.Query() {
				if secretFields[k] {
					*out = append(*out, vs...)
				}
			}
		}
	}
}
