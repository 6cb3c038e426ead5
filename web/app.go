// Package web is the shop's HTTP server: every route in routes.go, the
// shop's own pages (catalogue, cart, sign-in, account, checkout, orders),
// middleware, and the central error handler.
//
// Each flow is one struct built in New and named the same in every layer:
// vipps, klarna (payments and account linking), klarnasignin (Sign in with
// Klarna) and altpay (pay by invoice). Its handlers are in <flow>_*.go, split
// by what they do (checkout, settle, order, sweep, account). The payment
// flows implement paymentFlow, through which the checkout and order pages
// reach them; account panels, sign-in options and sweeps are called by name
// where they are used.
package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/altpay"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/klarna"
	"refshop/web/klarnasignin"
	"refshop/web/market"
	"refshop/web/outbound"
	"refshop/web/secret"
	"refshop/web/vipps"
)

// Deps are what the shop needs from main.
type Deps struct {
	Config   config.Config
	Store    *db.Store
	DB       *db.DB
	Sessions *scs.SessionManager
	Log      *slog.Logger
	Clock    clock.Clock
	Box      *secret.Box  // seals long-lived credentials at rest
	HTTP     *http.Client // the one outbound client for provider calls
	// Recorder is HTTP's exchange recorder, when it has one: the order page
	// waits for it to store what finished before listing an order's calls.
	Recorder *outbound.Recorder
	// The provider clients, one each per process (WithProviderClients); a nil
	// one is built from Config, HTTP and Clock (ProviderClock for KlarnaSignIn).
	Vipps    *vipps.Client
	Klarna   *klarna.Client // Klarna Payments in Europe (api.klarna.com)
	KlarnaNA *klarna.Client // Klarna Payments in North America (api-na.klarna.com): another merchant account
	// KlarnaSignIn is Sign in with Klarna, one client per region's issuer.
	KlarnaSignIn map[market.Region]*klarnasignin.Client
	Altpay       *altpay.Client // Alternative Payments
	// PasswordCost is bcrypt's cost; tests lower it. 0 means bcrypt.DefaultCost.
	PasswordCost int
	// ProviderClock is the emulated providers' time: the sandbox clock when
	// the sandbox runs in this process, the followed clock of one running
	// apart (SANDBOX_URL, web/sandboxclock), nil otherwise. A flow whose
	// provider is emulated runs its token lifetimes on it, so POST
	// /control/clock ages the shop's stored tokens as it ages the provider's.
	ProviderClock clock.Clock
	// ProviderDeadline is how long a customer request waits for all its
	// provider calls before answering with what the shop knows (0: 15 s;
	// tests shorten it). See deadline.go.
	ProviderDeadline time.Duration
	// Tick makes each background sweep's ticker, by the sweep's name (nil:
	// time.NewTicker); tests hand out channels they send on, so a sweep runs
	// when they say.
	Tick func(sweep string, every time.Duration) (ticks <-chan time.Time, stop func())
	// SubscribeAtStart makes RunBackground keep the shop's webhook
	// registrations at every provider (webhooks.go): in sandbox mode it
	// registers them and keeps them; in real mode it logs how to register.
	// cmd/shop sets it; tests register themselves (or set it to test the
	// keeping), so a test's RunBackground calls no Webhooks API.
	SubscribeAtStart bool
}

// App carries the dependencies every handler uses, and the flows.
type App struct {
	Deps
	echo *echo.Echo
	// Sign-in and sign-up failures, per client address and per account.
	addresses, accounts *throttle
	// instance names this App among the shop instances on one database:
	// it holds the background sweeps' leases (sweep.go).
	instance string
	csp      cspPolicy
	work     *providerWork // provider calls that may outlive their request (deadline.go)

	// The flows, one each, built in New. Each has its handlers in
	// web/<flow>*.go, its client in web/<flow>/, its store in
	// db/store_<flow>.go and its views in views/<flow>.templ.
	vipps        *vippsFlow
	klarna       *klarnaFlow
	klarnaSignIn *klarnaSignInFlow
	altpay       *altpayFlow
	// payments are the payment flows by the provider that takes the money:
	// an order's page is its provider's flow's.
	payments map[db.Provider]paymentFlow
}

// checkoutOrder is the order in which the checkout page offers the payment
// methods.
var checkoutOrder = []db.Provider{db.ProviderVipps, db.ProviderAltpay, db.ProviderKlarna}

// paymentFlow is what every payment flow gives the shop's shared pages.
type paymentFlow interface {
	// checkoutMethod is the flow's choice on the checkout page.
	checkoutMethod(c echo.Context, cart pricedCart) (templ.Component, error)
	// refresh brings one of the flow's orders up to date with its provider
	// before the order's page is built: only what the provider reports is
	// recorded, so a repeat or a prefetch changes nothing more. When the
	// provider cannot be asked, it returns the order as the shop knows it.
	refresh(c echo.Context, o db.Order) (db.Order, error)
	// orderPart is what the flow adds to one of its orders' page.
	orderPart(c echo.Context, o db.Order) (orderPart, error)
	// release frees the provider object of one of the flow's attempts that
	// the shop closed (web/attempts.go), where the provider allows, so it can
	// no longer be paid. nil: released, or nothing to release; an error: the
	// provider could not be asked, and the background tries again.
	release(ctx context.Context, o db.Order) error
	// browserRefs names the ids the sandbox links the browser's own calls
	// for o by (the payment reference, the session, the invoice: see
	// browsercalls.go), and whether o's calls went to the sandbox at all; in
	// real mode the browser talks to the provider, which the shop cannot see.
	browserRefs(ctx context.Context, o db.Order) (refs []string, sandbox bool, err error)
}

// orderPart is what a payment flow adds to an order page.
type orderPart struct {
	Details []templ.Component
	Actions []templ.Component
}

// New builds the shop's server and its flows.
func New(d Deps) *App {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	d = WithProviderClients(d)
	a := &App{Deps: d, addresses: newThrottle("address", d.Store, d.Clock, growingDelay),
		accounts: newThrottle("account", d.Store, d.Clock, fixedDelay),
		csp:      newCSP(d.Config), work: &providerWork{log: d.Log}, instance: rand.Text()}
	a.vipps = newVippsFlow(a)
	a.klarna = newKlarnaFlow(a)
	a.klarnaSignIn = newKlarnaSignInFlow(a)
	a.altpay = newAltpayFlow(a)
	a.payments = map[db.Provider]paymentFlow{
		db.ProviderVipps: a.vipps, db.ProviderKlarna: a.klarna, db.ProviderAltpay: a.altpay,
	}
	a.echo = a.newEcho()
	a.routes()
	return a
}

// RunBackground runs the flows' sweeps, which settle what no request will,
// until ctx ends. Then it refuses new provider work and waits for the work
// requests left running (deadline.go), so the database, which main closes
// once this returns, outlives it. main starts it beside the server and stops
// it after the server.
func (a *App) RunBackground(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.vipps.sweep(ctx) })
	wg.Go(func() { a.klarna.sweep(ctx) })
	wg.Go(func() { a.klarnaSignIn.sweep(ctx) })
	wg.Go(func() { a.altpay.sweep(ctx) })
	for _, k := range a.webhookKeepers() {
		wg.Go(func() { a.keepWebhook(ctx, k) })
	}
	wg.Go(func() { a.every(ctx, "release", releaseEvery, func(ctx context.Context) { a.releaseClosed(ctx, 0) }) })
	wg.Go(func() { a.every(ctx, "exchanges", exchangesPruneEvery, a.pruneExchanges) })
	wg.Wait()
	a.work.stop()
}

// ticker returns the ticks of the sweep named sweep, which runs every
// period (Deps.Tick).
func (a *App) ticker(sweep string, every time.Duration) (<-chan time.Time, func()) {
	if a.Tick != nil {
		return a.Tick(sweep, every)
	}
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// ServeHTTP serves the shop.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.echo.ServeHTTP(w, headAsGet(r)) }
