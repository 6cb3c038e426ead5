package klarna

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Idempotency: a POST or PATCH carrying a key runs once; a repeat with the
// same key within 24 hours on the sandbox clock gets the first answer again
// (https://docs.klarna.com/api/escalation-and-retry-policy/,
// https://docs.klarna.com/api/kn/integration-resilience/). The header has two
// names in Klarna's documents (Idempotency-Key in the account-linking guide,
// Klarna-Idempotency-Key in the API reference); both are honoured, on every
// POST and PATCH.
//
// NOT FOUND in Klarna's documents, chosen here (the client's expectations
// match):
//   - only successful (2xx) answers are remembered: an error leaves nothing
//     done, so a repeat is simply tried again;
//   - the same key with a different request (method, path or JSON body) is
//     refused with 422 IDEMPOTENCY_KEY_REUSED, as the IETF
//     Idempotency-Key draft recommends (in Payments and the Customer Token
//     API: Order Management documents a replay, see omIdempotent);
//   - two requests with one key at once are served one after the other, so
//     the second replays the first.
type idemRecord struct {
	Fingerprint string
	Status      int
	Header      map[string]string `json:",omitempty"` // Capture-Id, Location, ...
	Body        []byte
	Created     time.Time
}

// response is what an operation answers.
type response struct {
	status int
	header map[string]string // headers of a success (Order Management's Capture-Id, Location)
	body   any               // nil: no body
	err    *apiError
}

func ok(status int, body any) response { return response{status: status, body: body} }
func fail(e *apiError) response        { return response{err: e} }

func idempotencyKey(r *http.Request) (key string, conflict bool) {
	a, b := r.Header.Get("Klarna-Idempotency-Key"), r.Header.Get("Idempotency-Key")
	if a != "" && b != "" && a != b {
		return "", true
	}
	if a != "" {
		return a, false
	}
	return b, false
}

// idempotent runs handle at most once per idempotency key and writes its
// answer. Keys are the region's: each region is another merchant account.
func (p *provider) idempotent(w http.ResponseWriter, r *http.Request, reg region, body []byte, handle func() response) {
	p.once(w, r, string(reg), r.Method+" "+r.URL.Path+" "+canonicalJSON(body), handle)
}

// omIdempotent is Order Management's rule: "Input values of the operation
// are disregarded when evaluating the idempotency of the operation, only
// the key matters" (Order Management OpenAPI), so a repeat with another
// body replays the first answer. Chosen: the key is scoped to the
// operation and the order (its path), so a key reused for another call
// runs that call instead of answering as the first.
func (p *provider) omIdempotent(w http.ResponseWriter, r *http.Request, reg region, handle func() response) {
	p.once(w, r, string(reg)+" om "+r.URL.Path, "", handle)
}

// once runs handle at most once per key within scope. fp is the request's
// fingerprint: a repeat with another one is refused; "" compares nothing.
func (p *provider) once(w http.ResponseWriter, r *http.Request, scope, fp string, handle func() response) {
	key, conflict := idempotencyKey(r)
	if conflict {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "Idempotency-Key and Klarna-Idempotency-Key differ: send one key")
		return
	}
	if key == "" {
		writeResponse(w, handle())
		return
	}
	key = scope + " " + key
	lock := p.keyLock(key)
	lock.Lock()
	defer lock.Unlock()

	now := p.st.Now()
	p.mu.Lock()
	rec := p.idem[key]
	if rec != nil && now.Sub(rec.Created) >= IdempotencyTTL {
		delete(p.idem, key)
		rec = nil
	}
	p.mu.Unlock()
	if rec != nil {
		if fp != "" && rec.Fingerprint != fp {
			writeError(w, http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED",
				"This idempotency key was used with a different request in the last 24 hours")
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		setHeaders(w, rec.Header)
		writeRaw(w, rec.Status, rec.Body)
		return
	}
	resp := handle()
	if resp.err != nil {
		writeResponse(w, resp)
		return
	}
	raw := encode(resp.body)
	p.mu.Lock()
	p.idem[key] = &idemRecord{Fingerprint: fp, Status: resp.status, Header: resp.header, Body: raw, Created: now}
	p.mu.Unlock()
	setHeaders(w, resp.header)
	writeRaw(w, resp.status, raw)
}

func (p *provider) keyLock(key string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.keyLocks[key]
	if l == nil {
		l = &sync.Mutex{}
		p.keyLocks[key] = l
	}
	return l
}

// canonicalJSON writes a JSON body with sorted keys, so the same request
// sent with its fields in another order is still the same request.
func canonicalJSON(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func encode(v any) []byte {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

func writeResponse(w http.ResponseWriter, resp response) {
	if resp.err != nil {
		writeError(w, resp.err.Status, resp.err.Code, resp.err.Messages...)
		return
	}
	setHeaders(w, resp.header)
	writeRaw(w, resp.status, encode(resp.body))
}

func setHeaders(w http.ResponseWriter, h map[string]string) {
	for k, v := range h {
		w.Header().Set(k, v)
	}
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	if w.Header().Get("Klarna-Correlation-Id") == "" {
		w.Header().Set("Klarna-Correlation-Id", newID())
	}
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// begin is what every POST and PATCH of the Payments and Customer Token APIs
// goes through before its idempotent part: the fault hook for op, the
// region's HTTP Basic credentials, and reading the body (at most 1 MiB).
// When proceed is false the answer is written and the handler stops.
func (p *provider) begin(w http.ResponseWriter, r *http.Request, op string, reg region) (body []byte, proceed bool) {
	if p.st.Hit(w, r, op) || !p.authorized(w, r, reg) {
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "Could not read the request body")
		return nil, false
	}
	return body, true
}
