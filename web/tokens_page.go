package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"refshop/db"
	"refshop/views"
	"refshop/web/tokenlife"
)

// The token lifecycle (web/tokenlife) on the order page, in "How this
// payment happened" (views.OrderTokens), and on the account page
// (views.AccountTokens): read from the same redacted exchanges as the list,
// so it holds fingerprints only.

// accountExchangesRead is how many of an account's latest exchanges the
// account page reads for its tokens.
const accountExchangesRead = 200

// tokenInput is what tokenlife reads of the stored exchanges.
func tokenInput(xs []db.Exchange) []tokenlife.Exchange {
	out := make([]tokenlife.Exchange, 0, len(xs))
	for _, x := range xs {
		// Token lifetimes run on the provider's clock (the sandbox's may be
		// moved ahead of the shop's): a token's life is read on it.
		at := x.StartedAt
		if !x.ProviderAt.IsZero() {
			at = x.ProviderAt
		}
		out = append(out, tokenlife.Exchange{ID: x.ID, StartedAt: at, OrderID: x.OrderID, Provider: x.Provider,
			Operation: x.Operation, PathTemplate: x.PathTemplate, URL: x.URL, Status: x.Status, ReqHeaders: x.ReqHeaders,
			ReqBody: x.ReqBody, RespHeaders: x.RespHeaders, RespBody: x.RespBody})
	}
	return out
}

// orderTokensView is the tokens of an order's exchanges xs (the order
// page's list, in its order): each event links to its call in the list
// ("#exchange-3", the list's numbering).
func (a *App) orderTokensView(xs []db.Exchange) views.TokensView {
	n := make(map[int64]int, len(xs))
	for i, x := range xs {
		n[x.ID] = i + 1
	}
	call := func(e tokenlife.Event) (string, string) {
		i := n[e.Exchange]
		return "call " + strconv.Itoa(i) + ": " + operationWords(e.Operation), "#exchange-" + strconv.Itoa(i)
	}
	toks := tokenlife.From(tokenInput(xs), a.providerNow())
	v := tokensView(toks, call, "15:04:05.000")
	v.Note = providerClockNote(xs)
	return v
}

// accountTokens is the account page's "Tokens": the account's own tokens
// (Sign in with Klarna's, Klarna's customer_token) in its latest recorded
// exchanges. An event of an order's exchange links to the order page, at
// the call when the exchanges read hold all of that order's.
func (a *App) accountTokens(ctx context.Context, u db.User, orders []db.Order) (views.TokensView, error) {
	xs, err := a.Store.ExchangesByUser(ctx, u.ID, accountExchangesRead)
	if err != nil {
		return views.TokensView{}, err
	}
	publicID := make(map[int64]string, len(orders))
	for _, o := range orders {
		publicID[o.ID] = o.PublicID
	}
	// An exchange's number in its order's list; exact only when the read
	// was not cut (the cut may have left out an order's first calls).
	whole := len(xs) < accountExchangesRead
	numbers, seen := map[int64]int{}, map[int64]int{}
	for _, x := range xs {
		if x.OrderID != 0 {
			seen[x.OrderID]++
			numbers[x.ID] = seen[x.OrderID]
		}
	}
	byID := make(map[int64]db.Exchange, len(xs))
	for _, x := range xs {
		byID[x.ID] = x
	}
	call := func(e tokenlife.Event) (string, string) {
		x := byID[e.Exchange]
		words := providerName(db.Provider(x.Provider)) + ": " + operationWords(e.Operation)
		pub, ok := publicID[x.OrderID]
		if !ok {
			return words, ""
		}
		order := " (order " + pub[:min(8, len(pub))]
		if whole {
			return words + order + ", call " + strconv.Itoa(numbers[x.ID]) + ")",
				"/orders/" + pub + "#exchange-" + strconv.Itoa(numbers[x.ID])
		}
		return words + order + ")", "/orders/" + pub
	}
	var mine []tokenlife.Token
	for _, t := range tokenlife.From(tokenInput(xs), a.providerNow()) {
		if t.Account {
			mine = append(mine, t)
		}
	}
	v := tokensView(mine, call, "2 Jan 2006, 15:04:05")
	v.Note = providerClockNote(xs)
	if !whole {
		v.Note = strings.TrimSpace(fmt.Sprintf("Only the latest %d calls are read. ", accountExchangesRead) + v.Note)
	}
	return v, nil
}

// tokensView words toks for a page: call names an event's exchange and its
// link, layout formats times (in the shop's local time, as the list does).
func tokensView(toks []tokenlife.Token, call func(tokenlife.Event) (words, link string), layout string) views.TokensView {
	anchor := make(map[string]string, len(toks))
	for i, t := range toks {
		anchor[t.Fingerprint] = "token-" + strconv.Itoa(i+1)
	}
	ref := func(words, fp string) views.TokenRef {
		r := views.TokenRef{Words: words, Fingerprint: fp}
		if id, ok := anchor[fp]; ok {
			r.Link = "#" + id
		}
		return r
	}
	at := func(t time.Time) string { return t.Local().Format(layout) }
	var v views.TokensView
	for _, t := range toks {
		tv := views.TokenView{ID: anchor[t.Fingerprint], Kind: t.Kind, Fingerprint: t.Fingerprint, Ended: t.State != tokenlife.Live}
		switch t.State {
		case tokenlife.Live:
			tv.State = "No expiry given; still valid as far as these calls show."
			if !t.ExpiresAt.IsZero() {
				tv.State = "Expires at " + at(t.ExpiresAt) + "."
			}
		case tokenlife.Expired:
			tv.State = "Expired at " + at(t.ExpiresAt) + "."
		case tokenlife.Dropped:
			tv.State = "Refused, and not presented again: the shop dropped it."
		case tokenlife.Revoked:
			tv.State = "Revoked by the shop."
		case tokenlife.Replaced:
			words := "Replaced by"
			if t.Events[len(t.Events)-1].Kind == tokenlife.Refreshed {
				words = "Rotated: replaced by"
			}
			for _, e := range t.Events {
				if e.Other != "" {
					r := ref("", e.Other)
					tv.Ref = &r
				}
			}
			tv.State = words
		}
		if t.Lifetime > 0 {
			tv.Facts = "Lifetime " + lifetimeWords(t.Lifetime) + ". "
		}
		tv.Facts += usesWords(t.Uses)
		if t.Earlier {
			tv.Origin = t.Origin
		}
		for _, e := range t.Events {
			ev := views.TokenEventView{Time: at(e.At), When: e.At.UTC().Format(time.RFC3339Nano)}
			if e.Exchange != 0 {
				ev.Call, ev.Link = call(e)
				ev.CallPrefix = "in"
			}
			switch e.Kind {
			case tokenlife.Obtained:
				ev.What, ev.Detail, ev.CallPrefix = "Obtained", placeWords(e.Place), "from"
				if e.Via != "" {
					ev.Refs = append(ev.Refs, ref("by refreshing", e.Via))
				}
				if e.Replaces != "" && e.Replaces != e.Via {
					ev.Refs = append(ev.Refs, ref("in place of", e.Replaces))
				}
			case tokenlife.Used:
				ev.What, ev.Detail = "Used", useWords(e)+answerWords(e.Status)
			case tokenlife.Rejected:
				ev.What, ev.Detail, ev.Bad = "Refused", useWords(e)+answerWords(e.Status), true
			case tokenlife.Refreshed:
				ev.What, ev.Detail = "Refreshed", useWords(e)
				if e.Other != "" {
					ev.What = "Rotated"
					ev.Refs = append(ev.Refs, ref("replaced by", e.Other))
				} else {
					ev.Detail += ", and the answer kept it,"
				}
			case tokenlife.Superseded:
				ev.What, ev.CallPrefix = "Replaced", "given by"
				ev.Refs = append(ev.Refs, ref("by", e.Other))
			case tokenlife.Revocation:
				ev.What, ev.Detail = "Revoked", useWords(e)
			case tokenlife.Expiry:
				ev.What, ev.Detail = "Expired", "at the end of its lifetime"
			}
			if len(ev.Refs) > 0 && ev.Detail != "" && !strings.HasSuffix(ev.Detail, ",") {
				ev.Detail += ","
			}
			tv.Events = append(tv.Events, ev)
		}
		v.Tokens = append(v.Tokens, tv)
	}
	return v
}

// placeWords says where an exchange carried a token.
func placeWords(p tokenlife.Place) string {
	switch p.In {
	case "answer":
		return "in the answer's " + p.Name
	case "header":
		return "as the " + p.Name + " header"
	case "body":
		return "in the request's " + p.Name
	case "form":
		return "in the form's " + p.Name
	case "query":
		return "in the URL's " + p.Name + " parameter"
	case "path":
		if p.Name != "" {
			return "in the URL path, as {" + p.Name + "}"
		}
		return "in the URL path"
	}
	return ""
}

// useWords is a presentation: where, and which use.
func useWords(e tokenlife.Event) string {
	return placeWords(e.Place) + " (use " + strconv.Itoa(e.Use) + ")"
}

// answerWords is an answer other than a success, to follow a
// presentation: ", answered 401 Unauthorized,", ", no answer,"; "" for a
// success.
func answerWords(status int) string {
	switch {
	case status == 0:
		return ", no answer,"
	case status/100 == 2:
		return ""
	}
	s := ", answered " + strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		s += " " + t
	}
	return s + ","
}

func usesWords(n int) string {
	switch n {
	case 0:
		return "Not presented by the shop in these calls."
	case 1:
		return "Presented once."
	}
	return "Presented " + strconv.Itoa(n) + " times."
}

// lifetimeWords is a token's lifetime: "1 hour", "5 minutes", "299 seconds".
func lifetimeWords(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}

// providerNow is the providers' clock: the sandbox's in sandbox mode, which
// a test or a person may move ahead; the shop's otherwise.
func (a *App) providerNow() time.Time {
	if a.ProviderClock != nil {
		return a.ProviderClock.Now()
	}
	return a.Clock.Now()
}

// providerClockNote says that the token times are the provider's when its
// clock and the shop's differed during xs (the sandbox's clock was moved),
// so they differ from the times in the list of calls; "" otherwise.
func providerClockNote(xs []db.Exchange) string {
	var off time.Duration
	for _, x := range xs {
		if !x.ProviderAt.IsZero() {
			d := x.ProviderAt.Sub(x.StartedAt)
			off = max(off, d, -d)
		}
	}
	if off < time.Second {
		return ""
	}
	return "Times here are on the provider's clock (the sandbox's, which was moved), up to " +
		off.Round(time.Second).String() + " off the shop's: token lifetimes run on it, so these times differ from the list's."
}
