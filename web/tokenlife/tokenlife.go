// Package tokenlife derives the lives of the tokens a list of recorded
// exchanges shows (web/redact marks them "[redacted …Xy7Q #1f0c9a2b]", the
// same token always the same mark): for each token, where it came from,
// its lifetime, every request that presented it and how the provider
// answered, and how it ended (replaced, rotated, revoked, rejected,
// expired). The order page and the account page show them, so "one token
// per process" and "one refresh however many tabs race" can be seen.
//
// It reads only what the redacted exchanges hold: no database, no HTTP, no
// secret. A token obtained before the listed exchanges (the Vipps access
// token a process fetched for an earlier order) is shown from its first
// use, and says so.
package tokenlife

import (
	"net/http"
	"slices"
	"time"
)

// Exchange is what the derivation reads of one recorded exchange, as
// stored (db.Exchange): redacted.
type Exchange struct {
	ID           int64
	StartedAt    time.Time
	OrderID      int64 // 0: none
	Provider     string
	Operation    string // as the sandbox names it: "token_refresh"
	PathTemplate string // "/payments/v1/authorizations/{authorization_token}/order"
	URL          string
	Status       int // 0: no answer
	ReqHeaders   http.Header
	ReqBody      string
	RespHeaders  http.Header
	RespBody     string
}

// Token is one token's life in the exchanges.
type Token struct {
	Fingerprint string // "…Xy7Q #1f0c9a2b": the tag inside its marks
	Kind        string // "Vipps access token"
	Provider    string
	// Account: the token belongs to the customer's account (Sign in with
	// Klarna's tokens, Klarna's customer_token), not to one payment.
	Account bool
	// Earlier: no listed exchange obtained it; the first one presented it.
	// Origin says where it came from, in words.
	Earlier bool
	Origin  string
	// Lifetime is the one its answer gave (expires_in), ExpiresAt when it
	// ends (from the lifetime, or as the answer gave it: expires_at); zero
	// when unknown.
	Lifetime  time.Duration
	ExpiresAt time.Time
	Uses      int // requests that presented it
	State     State
	Events    []Event // in time order
}

// State is how a token stands at the end of the exchanges.
type State int

const (
	Live     State = iota // in use as far as the exchanges show
	Expired               // past its expiry, and not used after it
	Dropped               // refused (401, 403, invalid_grant) and not presented again: the shop dropped it
	Replaced              // a newer token took its place (rotated, for a refresh token)
	Revoked               // the shop revoked it
)

// EventKind is what happened to a token.
type EventKind int

const (
	// Obtained: an answer issued it. Via is the refresh token the request
	// presented, Replaces the token it takes the place of ("" for none).
	Obtained EventKind = iota
	// Used: a request presented it (Use counts them, from 1).
	Used
	// Rejected: a request presented it and was refused (401, 403, or
	// invalid_grant).
	Rejected
	// Refreshed: a refresh request presented it and got new tokens; Other is
	// the refresh token that replaces it ("" when it was kept).
	Refreshed
	// Superseded: a newer token of its kind, Other, was obtained for the
	// same order after this one was presented.
	Superseded
	// Revocation: a revocation request presented it and was answered.
	Revocation
	// Expiry: its expiry passed (no exchange).
	Expiry
)

// Event is one thing that happened to a token, and the exchange that did it
// (none for Expiry).
type Event struct {
	Kind      EventKind
	At        time.Time
	Exchange  int64 // its ID; 0 for Expiry
	Operation string
	Status    int   // the answer's; 0: no answer
	Place     Place // where the request or answer carried it
	Use       int   // Used, Rejected, Refreshed, Revocation: which use, from 1
	Via       string
	Replaces  string
	Other     string
}

// Place is where an exchange carried a token.
type Place struct {
	In   string // "header", "body", "form", "path", "query", "answer"
	Name string // the header, field or path parameter: "Authorization", "refresh_token"
}

// From derives the lives of the tokens in xs, as of now. The tokens come
// in the order they were first seen.
func From(xs []Exchange, now time.Time) []Token {
	xs = slices.Clone(xs)
	slices.SortStableFunc(xs, func(a, b Exchange) int { return a.StartedAt.Compare(b.StartedAt) })
	d := deriver{byFP: map[string]*Token{}, presentedIn: map[int64][]string{}}
	for _, x := range xs {
		d.exchange(x)
	}
	out := make([]Token, 0, len(d.order))
	for _, fp := range d.order {
		t := d.byFP[fp]
		finish(t, now)
		out = append(out, *t)
	}
	return out
}

type deriver struct {
	byFP  map[string]*Token
	order []string
	// presentedIn: per order, the tokens its exchanges presented so far, so
	// a newer token of the same kind for the same order supersedes them.
	presentedIn map[int64][]string
}

func (d *deriver) token(fp string, k kind, provider string) *Token {
	if t, ok := d.byFP[fp]; ok {
		return t
	}
	t := &Token{Fingerprint: fp, Kind: k.label, Provider: provider, Account: k.account}
	d.byFP[fp] = t
	d.order = append(d.order, fp)
	return t
}

func (d *deriver) exchange(x Exchange) {
	sent := requestSightings(x)
	got := answerSightings(x)
	refused := refusal(x, sent)
	ev := func(k EventKind, p Place) Event {
		return Event{Kind: k, At: x.StartedAt, Exchange: x.ID, Operation: x.Operation, Status: x.Status, Place: p}
	}

	// What the request presented, and the refresh token among it.
	presented := map[string]bool{}
	refreshWith := ""
	for _, s := range sent {
		if presented[s.fp] {
			continue
		}
		presented[s.fp] = true
		k := kindOf(x.Provider, x.Operation, s.place.Name, s.hint)
		t := d.token(s.fp, k, x.Provider)
		if len(t.Events) == 0 {
			t.Earlier, t.Origin = true, k.origin
		}
		t.Uses++
		e := ev(Used, s.place)
		e.Use = t.Uses
		switch {
		case refused(s):
			e.Kind = Rejected
		case isRefresh(s.place) && x.Status/100 == 2 && len(got) > 0:
			e.Kind = Refreshed
			refreshWith = s.fp
		case x.Operation == "revoke" && x.Status/100 == 2:
			e.Kind = Revocation
		}
		t.Events = append(t.Events, e)
	}

	// What the answer issued: tokens not seen before. One an answer gives
	// again (a session read repeating its client_token) is no news.
	for _, s := range got {
		if presented[s.fp] {
			continue
		}
		if _, seen := d.byFP[s.fp]; seen {
			continue
		}
		k := kindOf(x.Provider, x.Operation, s.place.Name, "")
		t := d.token(s.fp, k, x.Provider)
		t.Lifetime, t.ExpiresAt = s.lifetime, s.expiresAt
		if s.lifetime > 0 {
			t.ExpiresAt = x.StartedAt.Add(s.lifetime)
		}
		e := ev(Obtained, s.place)
		e.Via = refreshWith
		if old := d.supersedes(x, t, sent); old != nil {
			e.Replaces = old.Fingerprint
			if refreshWith == old.Fingerprint {
				// The refresh token's own event says it was rotated.
				old.Events[len(old.Events)-1].Other = t.Fingerprint
			} else {
				se := ev(Superseded, Place{})
				se.Other = t.Fingerprint
				old.Events = append(old.Events, se)
			}
		}
		t.Events = append(t.Events, e)
	}
	if x.OrderID != 0 {
		for _, s := range sent {
			if !slices.Contains(d.presentedIn[x.OrderID], s.fp) {
				d.presentedIn[x.OrderID] = append(d.presentedIn[x.OrderID], s.fp)
			}
		}
	}
}

// supersedes finds the token t takes the place of: one of t's kind this
// exchange presented (a refresh token rotated), or, for the same order, one
// an earlier exchange presented (a customer_token the order's session sent,
// replaced by the one its order answer gave; an OAuth token refused, then
// fetched again). The latest such token that was not already replaced.
func (d *deriver) supersedes(x Exchange, t *Token, sent []sighting) *Token {
	var cands []string
	for _, s := range sent {
		if !slices.Contains(cands, s.fp) {
			cands = append(cands, s.fp)
		}
	}
	if x.OrderID != 0 {
		cands = slices.Concat(d.presentedIn[x.OrderID], cands)
	}
	for _, fp := range slices.Backward(cands) {
		old := d.byFP[fp]
		if old == t || old.Kind != t.Kind || old.Provider != t.Provider || replaced(old) {
			continue
		}
		return old
	}
	return nil
}

func replaced(t *Token) bool {
	return slices.ContainsFunc(t.Events, func(e Event) bool {
		return e.Kind == Superseded || (e.Kind == Refreshed && e.Other != "")
	})
}

// isRefresh says whether a request carried a token where a refresh grant
// does (RFC 6749 6: refresh_token in the form).
func isRefresh(p Place) bool { return p.Name == "refresh_token" && (p.In == "form" || p.In == "body") }

// refusal says which of the tokens x's request presented its answer
// refused: with 401 or 403, the bearer token in a header when there is one;
// with 403, or 401 to a request that sent no credentials at all, the
// tokens it presented otherwise (a 401 to Basic auth refuses the merchant's
// credentials, not a token in the body); with a token endpoint's
// invalid_grant (RFC 6749 5.2: 400), the refresh token.
func refusal(x Exchange, sent []sighting) func(sighting) bool {
	none := func(sighting) bool { return false }
	switch x.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if slices.ContainsFunc(sent, func(s sighting) bool { return s.place.In == "header" }) {
			return func(s sighting) bool { return s.place.In == "header" }
		}
		if x.Status == http.StatusUnauthorized && x.ReqHeaders.Get("Authorization") != "" {
			return none
		}
		return func(sighting) bool { return true }
	case http.StatusBadRequest:
		if containsGrantError(x.RespBody) {
			return func(s sighting) bool { return isRefresh(s.place) }
		}
	}
	return none
}

// finish adds the expiry and the token's state.
func finish(t *Token, now time.Time) {
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) && !endedBefore(t, t.ExpiresAt) && !usedFrom(t, t.ExpiresAt) {
		t.Events = append(t.Events, Event{Kind: Expiry, At: t.ExpiresAt})
		slices.SortStableFunc(t.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	}
	t.State = Live
	for _, e := range t.Events {
		switch e.Kind {
		case Used, Obtained:
			if t.State == Dropped {
				t.State = Live // presented again, and accepted: the refusal was not the end
			}
		case Rejected:
			if t.State == Live {
				t.State = Dropped
			}
		case Refreshed:
			if e.Other != "" {
				t.State = Replaced
			}
		case Superseded:
			t.State = Replaced
		case Revocation:
			t.State = Revoked
		case Expiry:
			if t.State == Live || t.State == Dropped {
				t.State = Expired
			}
		}
	}
}

// endedBefore says whether t was replaced or revoked before at: its expiry
// no longer matters then.
func endedBefore(t *Token, at time.Time) bool {
	return slices.ContainsFunc(t.Events, func(e Event) bool {
		return e.At.Before(at) && (e.Kind == Revocation || e.Kind == Superseded || (e.Kind == Refreshed && e.Other != ""))
	})
}

// usedFrom says whether a request presented t at or after at and was
// answered without refusal: then the expiry the answer gave was not its end.
func usedFrom(t *Token, at time.Time) bool {
	return slices.ContainsFunc(t.Events, func(e Event) bool {
		return !e.At.Before(at) && (e.Kind == Used || e.Kind == Refreshed) && e.Status/100 == 2
	})
}
