package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// browser is one customer's browser: a cookie jar, and forms posted from the
// page's own origin, as the shop's pages post them (the shop refuses
// cross-origin POSTs). Redirects are followed one by one, so each step sees
// where it was sent.
type browser struct {
	shopURL string
	http    *http.Client
	history []page // every answer, bodies left out
}

// pageTimeout is longer than the shop's 60s write timeout, so a request the
// server cuts off shows up as a cut connection, not as the suite giving up.
const pageTimeout = 90 * time.Second

func newBrowser(shopURL string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{shopURL: shopURL, http: &http.Client{
		Jar: jar, Timeout: pageTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is one answer the customer saw.
type page struct {
	method, url string
	status      int
	location    string // absolute
	body        string
	took        time.Duration
	err         error // no answer at all (refused, cut, timed out)
}

func (p page) String() string {
	if p.err != nil {
		return fmt.Sprintf("%s %s: no answer after %s (%v)", p.method, pathOf(p.url), p.took.Round(100*time.Millisecond), p.err)
	}
	return fmt.Sprintf("%s %s: %d", p.method, pathOf(p.url), p.status)
}

func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Path
}

func (p page) redirect() bool {
	return p.err == nil && p.status >= 300 && p.status < 400 && p.location != ""
}

// doc parses the page's HTML (an empty document when there is none).
func (p page) doc() *goquery.Document {
	d, err := goquery.NewDocumentFromReader(strings.NewReader(p.body))
	if err != nil {
		d, _ = goquery.NewDocumentFromReader(strings.NewReader(""))
	}
	return d
}

// text is what the customer reads: the main content, whitespace collapsed;
// for a JSON answer (the invoice page's token endpoint), its body.
func (p page) text() string {
	t := p.body
	if strings.HasPrefix(strings.TrimSpace(p.body), "<") {
		t = p.doc().Find("main").Text()
	}
	return strings.Join(strings.Fields(t), " ")
}

// saysNothingCharged: the page tells the customer that no money was taken.
func (p page) saysNothingCharged() bool {
	return strings.Contains(strings.ToLower(p.text()), "nothing was charged")
}

// saysConfirming: the page tells the customer the shop is still confirming
// the payment with the provider ("We are confirming your payment"), so
// there is nothing to do but wait.
func (p page) saysConfirming() bool {
	return strings.Contains(strings.ToLower(p.text()), "confirming")
}

func (b *browser) abs(raw string) string {
	if strings.HasPrefix(raw, "/") {
		return b.shopURL + raw
	}
	return raw
}

func (b *browser) do(ctx context.Context, req *http.Request) (p page) {
	defer func() {
		h := p
		h.body = ""
		b.history = append(b.history, h)
	}()
	start := time.Now()
	p = page{method: req.Method, url: req.URL.String()}
	res, err := b.http.Do(req.WithContext(ctx))
	p.took = time.Since(start)
	if err != nil {
		p.err = err
		return p
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	p.took = time.Since(start)
	if err != nil {
		p.err = fmt.Errorf("reading the answer: %w", err)
		return p
	}
	p.status, p.body = res.StatusCode, string(body)
	if loc := res.Header.Get("Location"); loc != "" {
		if u, err := req.URL.Parse(loc); err == nil {
			p.location = u.String()
		}
	}
	return p
}

func (b *browser) get(ctx context.Context, raw string) page {
	req, err := http.NewRequest(http.MethodGet, b.abs(raw), nil)
	if err != nil {
		return page{method: http.MethodGet, url: raw, err: err}
	}
	return b.do(ctx, req)
}

// post submits a form from a page of the target's own origin.
func (b *browser) post(ctx context.Context, raw string, form url.Values) page {
	req, err := http.NewRequest(http.MethodPost, b.abs(raw), strings.NewReader(form.Encode()))
	if err != nil {
		return page{method: http.MethodPost, url: raw, err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(ctx, req)
}

// follow follows p's redirects with GET, as a browser does after a 303.
func (b *browser) follow(ctx context.Context, p page) page {
	for range 10 {
		if !p.redirect() {
			return p
		}
		p = b.get(ctx, p.location)
	}
	return p
}

// --- reading the shop's pages ---

// shopOrder is one row of the account page's order list.
type shopOrder struct {
	id     string
	status string // pending, authorized, captured, failed, cancelled
}

func paid(status string) bool { return status == "authorized" || status == "captured" }

// orders reads the account page: the customer's orders, newest first, and
// the number of items in the cart (the header's badge).
func (b *browser) account(ctx context.Context) (orders []shopOrder, cart int, err error) {
	p := b.get(ctx, "/account")
	if p.redirect() && pathOf(p.location) == "/signin" {
		// A guest: no order list; the cart page has the badge.
		p = b.get(ctx, "/cart")
		if p.err != nil || p.status != http.StatusOK {
			return nil, 0, fmt.Errorf("the cart page: %v", p)
		}
		return nil, cartCount(p.doc()), nil
	}
	if p.err != nil || p.status != http.StatusOK {
		return nil, 0, fmt.Errorf("the account page: %v", p)
	}
	d := p.doc()
	d.Find(`section[aria-labelledby="orders-heading"] tbody tr`).Each(func(_ int, row *goquery.Selection) {
		href, _ := row.Find(`a[href^="/orders/"]`).Attr("href")
		orders = append(orders, shopOrder{id: strings.TrimPrefix(href, "/orders/"), status: statusOf(row.Find("span.status"))})
	})
	return orders, cartCount(d), nil
}

// statusOf reads an order's status from its badge's class (status-<name>).
func statusOf(s *goquery.Selection) string {
	for _, c := range strings.Fields(s.AttrOr("class", "")) {
		if name, ok := strings.CutPrefix(c, "status-"); ok {
			return name
		}
	}
	return ""
}

func cartCount(d *goquery.Document) int {
	n, err := strconv.Atoi(strings.TrimSpace(d.Find(`[data-testid="cart-link"] .badge`).Text()))
	if err != nil {
		return -1
	}
	return n
}

// orderPage is what an order's page shows.
type orderPage struct {
	status    string
	reference string // the provider's reference (Klarna order id, invoice id, Vipps reference)
	found     bool
}

// order opens an order's page, as a customer checking on it does. (Viewing
// it may move the order: the shop asks the provider where it stands.)
func (b *browser) order(ctx context.Context, id string) (orderPage, page) {
	p := b.get(ctx, "/orders/"+id)
	if p.err != nil || p.status != http.StatusOK {
		return orderPage{}, p
	}
	d := p.doc()
	return orderPage{found: true, status: statusOf(d.Find(`[data-testid="order-status"]`)),
		reference: strings.TrimSpace(d.Find(`[data-testid="provider-reference"]`).Text())}, p
}

// addToCart puts one of a product in the cart.
func (b *browser) addToCart(ctx context.Context, product string) error {
	p := b.post(ctx, "/cart/items", url.Values{"product_id": {product}, "quantity": {"1"}})
	if p.err != nil || p.status != http.StatusSeeOther {
		return fmt.Errorf("adding %s to the cart: %v", product, p)
	}
	return nil
}

// inMarket picks the market (web/market) with the page header's form: each
// payment method is offered in its own markets.
func (b *browser) inMarket(ctx context.Context, id string) error {
	p := b.post(ctx, "/market", url.Values{"market": {id}, "next": {"/"}})
	if p.err != nil || p.status != http.StatusSeeOther {
		return fmt.Errorf("choosing market %s: %v", id, p)
	}
	return nil
}

// signUp makes an account and leaves the browser signed in.
func (b *browser) signUp(ctx context.Context, email string) error {
	p := b.post(ctx, "/signup", url.Values{"email": {email}, "password": {"correct horse battery staple"}, "name": {"Fault Suite"}})
	if p.err != nil || p.status != http.StatusSeeOther {
		return fmt.Errorf("signing up: %v", p)
	}
	return nil
}

// joinShownOrder: a step the shop answered with an order's page (it is still
// confirming the payment, or the attempt is settled) belongs to that order.
func joinShownOrder(c *customer, p page) {
	if id, ok := strings.CutPrefix(pathOf(p.location), "/orders/"); p.redirect() && ok && id != "" {
		c.join(id)
	}
}
