// Package diagram lays out the sequence diagram of an order's provider
// exchanges (issue 12) for views.SequenceDiagram: a lifeline for the shop,
// one per provider API involved, and one for the browser when the browser's
// own calls are given; a row per exchange, in time order, with the request
// arrow (operation, method and path template) and the dashed answer arrow
// (status or "no answer", and duration). A provider's call to the shop (a
// webhook delivery, a callback) goes the other way: from the provider's
// lifeline to the shop's, its answer back.
//
// The order page's handler lays out the order's stored exchanges into its
// view model, and its template draws them (views imports nothing of the
// project, so the conversion stays on this side):
//
//	xs, _, err := a.Store.ExchangesByOrder(ctx, orderID, limit) // in time order
//	...
//	v.Diagram = diagram.FromExchanges(xs)             // views.DiagramView
//
//	// in the order page's templ, above the list of exchanges:
//	@SequenceDiagram(v.Diagram)
//
// With no exchanges the component says that none was recorded and draws
// nothing else.
//
// Only the method, the path template, the operation, the status, the error
// kind, the try and its reason and the duration are drawn: never a URL as
// sent, its query, a header or a body. The URL's host and path are read only
// to tell Klarna's regions and its identity service apart.
//
// The layout is fixed: a viewBox Width wide (the shop's content column),
// a left gutter for the step numbers and retry notes, the lifelines spread
// evenly over the rest (the shop's first, against the gutter, so that its
// arrows to the first provider get the most room), and rows RowHeight
// tall. Labels are shortened to the space
// between their lifelines by a character count in the monospace font the
// stylesheet gives them (no text is measured), so the same exchanges always
// draw the same SVG.
package diagram

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"refshop/db"
	"refshop/views"
)

// Exchange is one call the diagram draws: what it needs of a db.Exchange,
// and whether the browser made it.
type Exchange struct {
	StartedAt time.Time
	Duration  time.Duration
	// Origin is who sent the request: the shop (""), the browser (a call
	// the sandbox recorded, sent by the provider's snippet or widget; drawn
	// from a Browser lifeline), or the provider (a webhook delivery or a
	// callback; drawn from the provider's lifeline to the shop's).
	Origin       db.Origin
	Provider     string // "vipps", "klarna", "klarnasignin", "altpay"
	Operation    string // "create_payment"
	Event        string // what a provider's call delivered: "invoice_paid"; ""
	Method       string
	PathTemplate string // "/epayment/v1/payments/{reference}"
	// URL is read for its host and path only: which Klarna region or
	// service answered. It is never drawn.
	URL         string
	Status      int    // 0: no answer
	Error       string // with no answer: "timeout", "network", "canceled"
	Try         int    // from 1
	RetryReason string // the previous try's outcome: "503", "timeout"
}

// Input is what Layout draws.
type Input struct {
	// ID is unique on the page ("seq-order-12"); "seq" when empty.
	ID        string
	Exchanges []Exchange
}

// The layout's fixed sizes, in the SVG's user units (CSS pixels at the
// content column's width).
const (
	Width     = 960 // the content column
	Gutter    = 150 // step numbers and retry notes, left of the lifelines
	RowHeight = 56  // one exchange: its request and its answer
	headTop   = 8
	headH     = 40
	headMaxW  = 200
	headGap   = 16 // at least, between two heads
	rightPad  = 8
	firstRow  = headTop + headH + 8
	bottomPad = 12
	// labelChar is a monospace character's width at the labels' 12px
	// (0.6em, and a little room for the fallback fonts); headChar and
	// noteChar an average character's in the system font at the heads'
	// 13px and the gutter's 12px, generously.
	labelChar = 7.4
	headChar  = 7.6
	noteChar  = 7 // the gutter's 12px system font
	gutterX   = 8
	labelPad  = 10 // each side of a label, from the lifelines
)

// FromExchanges lays out an order's stored exchanges (Store.ExchangesByOrder)
// as the shop's own calls, in the order they started. The diagram's ID
// names the order when they all belong to one.
func FromExchanges(xs []db.Exchange) views.DiagramView {
	var in Input
	for _, x := range xs {
		in.Exchanges = append(in.Exchanges, Convert(x))
	}
	if len(xs) > 0 && xs[0].OrderID != 0 &&
		!slices.ContainsFunc(xs, func(x db.Exchange) bool { return x.OrderID != xs[0].OrderID }) {
		in.ID = "seq-order-" + strconv.FormatInt(xs[0].OrderID, 10)
	}
	return Layout(in)
}

// Convert takes what the diagram draws of a stored exchange.
func Convert(x db.Exchange) Exchange {
	return Exchange{
		StartedAt: x.StartedAt, Duration: x.Duration, Origin: x.Origin, Provider: x.Provider, Operation: x.Operation, Event: x.Event, Method: x.Method,
		PathTemplate: x.PathTemplate, URL: x.URL, Status: x.Status, Error: x.Error, Try: x.Try, RetryReason: x.RetryReason,
	}
}

// Layout lays out in's exchanges in the order they started (a stable sort:
// those that started together keep their order).
func Layout(in Input) views.DiagramView {
	xs := slices.Clone(in.Exchanges)
	slices.SortStableFunc(xs, func(a, b Exchange) int { return a.StartedAt.Compare(b.StartedAt) })
	v := views.DiagramView{ID: cmp.Or(in.ID, "seq"), Width: Width}

	// The lifelines: the browser's when it made a call, the shop's, then
	// each provider API in the order it first appears.
	var names []string
	if slices.ContainsFunc(xs, func(x Exchange) bool { return x.Origin == db.OriginBrowser }) {
		names = append(names, browser)
	}
	names = append(names, shop)
	lifeline := lifelines(xs)
	for _, x := range xs {
		if n := lifeline(x); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	// The heads are as wide as leaves 16 between them, at most headMaxW;
	// the first stands at the gutter, the last at the right edge, and the
	// lifelines are spread evenly between.
	n := len(names)
	room := Width - Gutter - rightPad
	w := min(headMaxW, (room-headGap*(n-1))/n)
	step := 0
	if n > 1 {
		step = (room - w) / (n - 1)
	}
	at := map[string]int{}
	for i, name := range names {
		x := Gutter + w/2 + step*i
		at[name] = x
		l := views.DiagramLifeline{Name: name, X: x, BoxX: x - w/2, BoxY: headTop, BoxW: w, BoxH: headH,
			Browser: name == browser, Shop: name == shop}
		l.Lines = headLines(name, int(float64(w-12)/headChar))
		if len(l.Lines) == 1 {
			l.TextY = []int{headTop + 25}
		} else {
			l.TextY = []int{headTop + 17, headTop + 33}
		}
		v.Lifelines = append(v.Lifelines, l)
	}
	v.LifelineTop = headTop + headH
	v.Height = firstRow + len(xs)*RowHeight + bottomPad
	v.LifelineBottom = v.Height - 4

	gutterChars := int((Gutter - 2*gutterX) / noteChar)
	for i, x := range xs {
		top := firstRow + i*RowHeight
		from, to := at[shop], at[lifeline(x)]
		switch x.Origin {
		case db.OriginBrowser:
			from = at[browser]
		case db.OriginProvider:
			from, to = to, from
		}
		chars := int(float64(abs(to-from)-2*labelPad) / labelChar)
		r := views.DiagramRow{
			Step: strconv.Itoa(i + 1), At: offset(x.StartedAt.Sub(xs[0].StartedAt)),
			GutterX: gutterX, StepY: top + 16, NoteY: top + 40,
			Retry: x.Try > 1, NoAnswer: x.Status == 0, BadAnswer: x.Status == 0 || x.Status >= 400,
			FromBrowser: x.Origin == db.OriginBrowser, FromProvider: x.Origin == db.OriginProvider,
		}
		if r.Retry {
			r.NoteTitle = retryNote(x)
			r.Note = truncate(r.NoteTitle, gutterChars)
		}
		req, full := requestLabel(x, chars)
		r.Request = views.DiagramArrow{X1: from, X2: to, Y: top + 22, Label: req, LabelX: (from + to) / 2, LabelY: top + 16,
			Head: true, Title: requestTitle(i+1, x, full, lifeline(x))}
		ans := answerLabel(x)
		r.Answer = views.DiagramArrow{X1: to, X2: from, Y: top + 46, Label: truncate(ans, chars), LabelX: (from + to) / 2,
			LabelY: top + 40, Head: x.Status != 0, Title: answerTitle(i+1, x)}
		v.Rows = append(v.Rows, r)
	}
	v.Title, v.Desc = "Sequence diagram of the exchanges with the providers, in time order", describe(xs, names)
	return v
}

const (
	shop    = "Shop"
	browser = "Browser"
)

// lifelines returns the lifeline each exchange of xs is drawn to or from:
// the API that answered a request to a provider (LifelineName), and, for
// a provider's call to the shop (whose URL is the shop's), the lifeline of
// the first request the shop or the browser sent that provider's API
// (Klarna's identity service aside: it sends no callbacks), so the call
// comes from the region the payment is in.
func lifelines(xs []Exchange) func(Exchange) string {
	sender := map[string]string{}
	for _, x := range xs {
		if x.Origin == db.OriginProvider {
			continue
		}
		if _, ok := sender[x.Provider]; !ok {
			if n := LifelineName(x.Provider, x.URL); n != "Klarna identity" {
				sender[x.Provider] = n
			}
		}
	}
	return func(x Exchange) string {
		if x.Origin != db.OriginProvider {
			return LifelineName(x.Provider, x.URL)
		}
		if n, ok := sender[x.Provider]; ok {
			return n
		}
		return LifelineName(x.Provider, "")
	}
}

// LifelineName names the provider API that answered an exchange, for a
// person: Klarna's region or its identity service from the URL's host
// (api-na.klarna.com, login.klarna.com) or, on the sandbox, its path
// (/klarna/api-na, /klarna/login).
func LifelineName(provider, rawURL string) string {
	switch provider {
	case "vipps":
		return "Vipps MobilePay API"
	case "altpay":
		return "Alternative Payments API"
	case "klarnasignin":
		return "Klarna identity"
	case "klarna":
		var host, path string
		if u, err := url.Parse(rawURL); err == nil {
			host, path = u.Hostname(), u.Path+"/"
		}
		switch {
		case strings.HasPrefix(host, "login.") || strings.Contains(path, "/klarna/login/"):
			return "Klarna identity"
		case strings.HasPrefix(host, "api-na.") || strings.Contains(path, "/klarna/api-na/"):
			return "Klarna Payments API (North America)"
		case strings.HasPrefix(host, "api-oc.") || strings.Contains(path, "/klarna/api-oc/"):
			return "Klarna Payments API (Oceania)"
		case strings.HasPrefix(host, "api.") || strings.Contains(path, "/klarna/api/"):
			return "Klarna Payments API (Europe)"
		}
		return "Klarna Payments API"
	case "":
		return "Provider API"
	}
	// An unlabelled call names its host as its provider.
	return provider
}

// pathOnly is a path template with nothing after a '?' or '#': the diagram
// draws no query, even one a template should not have held.
func pathOnly(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "(path not recorded)"
	}
	return p
}

// requestLabel is "create_payment POST /epayment/v1/payments", shortened to
// chars: first the path's leading segments give way to "…", then the end.
// full is the label unshortened.
//
// A provider's call to the shop names the event it delivered, when it says
// one, in place of the operation: "invoice_paid POST /webhooks/altpay".
func requestLabel(x Exchange, chars int) (label, full string) {
	what := cmp.Or(x.Operation, "call")
	if x.Origin == db.OriginProvider && x.Event != "" {
		what = x.Event
	}
	head := strings.TrimSpace(what + " " + strings.ToUpper(x.Method))
	path := pathOnly(x.PathTemplate)
	full = head + " " + path
	if runes(full) <= chars {
		return full, full
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for k := 1; k < len(segs); k++ {
		if s := head + " /…/" + strings.Join(segs[k:], "/"); runes(s) <= chars {
			return s, full
		}
	}
	return truncate(full, chars), full
}

func requestTitle(step int, x Exchange, label, lifeline string) string {
	from, to := "the shop", lifeline
	switch x.Origin {
	case db.OriginBrowser:
		from = "the browser"
	case db.OriginProvider:
		from, to = lifeline, "the shop"
		if x.Event != "" {
			label = x.Operation + " " + label // the label names the event only
		}
	}
	s := fmt.Sprintf("%d. %s, from %s to %s", step, label, from, to)
	if x.Try > 1 {
		s += "; " + retryNote(x)
	}
	return s
}

// answerLabel is "200 · 312 ms", or "no answer: timeout · 10 s".
func answerLabel(x Exchange) string {
	if x.Status == 0 {
		return noAnswer(x) + " · " + duration(x.Duration)
	}
	return strconv.Itoa(x.Status) + " · " + duration(x.Duration)
}

func answerTitle(step int, x Exchange) string {
	if x.Status == 0 {
		return fmt.Sprintf("%d. %s after %s", step, noAnswer(x), duration(x.Duration))
	}
	return fmt.Sprintf("%d. %s after %s", step, strings.TrimSpace(strconv.Itoa(x.Status)+" "+http.StatusText(x.Status)),
		duration(x.Duration))
}

// noAnswer says why no answer came, from the recorder's fixed kinds only:
// the diagram draws no free text the provider or the network sent.
func noAnswer(x Exchange) string {
	switch x.Error {
	case "timeout", "network", "canceled":
		return "no answer: " + x.Error
	}
	return "no answer"
}

// retryNote is "try 2 after 503".
func retryNote(x Exchange) string {
	s := "try " + strconv.Itoa(x.Try)
	if r := x.RetryReason; r != "" && len(r) <= 16 && !strings.ContainsAny(r, "?&=/") {
		s += " after " + r
	}
	return s
}

// describe is the SVG's desc: "5 exchanges between the shop and Vipps
// MobilePay API; 1 retry."
func describe(xs []Exchange, names []string) string {
	var who []string
	for _, n := range names {
		switch n {
		case shop:
			who = append(who, "the shop")
		case browser:
			who = append(who, "the browser")
		default:
			who = append(who, n)
		}
	}
	retries, lost, called := 0, 0, 0
	for _, x := range xs {
		if x.Try > 1 {
			retries++
		}
		if x.Status == 0 {
			lost++
		}
		if x.Origin == db.OriginProvider {
			called++
		}
	}
	s := plural(len(xs), "exchange", "exchanges") + " between " + andList(who)
	switch retries {
	case 0:
		s += "; no retry"
	default:
		s += "; " + plural(retries, "retry", "retries")
	}
	if lost > 0 {
		s += "; " + strconv.Itoa(lost) + " without an answer"
	}
	if called > 0 {
		s += "; " + plural(called, "call", "calls") + " from a provider to the shop"
	}
	return s + "."
}

func andList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// duration is "312 ms", "1.2 s", "<1 ms".
func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1 ms"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// offset is a row's time from the first row's: "+0 ms", "+2.4 s".
func offset(d time.Duration) string {
	if d < time.Millisecond {
		return "+0 ms"
	}
	return "+" + duration(d)
}

// headLines is a lifeline's name on one line, or on two each shortened to
// chars: a qualifier in parentheses on its own ("Klarna Payments API",
// "(North America)"), so that it stays whole however narrow the head;
// otherwise split at the latest space that lets the first line fit.
func headLines(name string, chars int) []string {
	if runes(name) <= chars {
		return []string{name}
	}
	if i := strings.Index(name, " ("); i > 0 {
		return []string{truncate(name[:i], chars), truncate(name[i+1:], chars)}
	}
	words := strings.Fields(name)
	for k := len(words) - 1; k > 0; k-- {
		if first := strings.Join(words[:k], " "); runes(first) <= chars {
			return []string{first, truncate(strings.Join(words[k:], " "), chars)}
		}
	}
	return []string{truncate(name, chars)}
}

// truncate shortens s to chars characters, the last an ellipsis.
func truncate(s string, chars int) string {
	r := []rune(s)
	if len(r) <= chars {
		return s
	}
	if chars < 1 {
		return "…"
	}
	return strings.TrimRight(string(r[:chars-1]), " ") + "…"
}

func runes(s string) int { return len([]rune(s)) }

func abs(n int) int { return max(n, -n) }
