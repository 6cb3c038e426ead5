// Package web is the shop's HTTP server: routes in routes.go, one file per
// feature's handlers, middleware, and the central error handler.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/a-h/templ"
	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/altpay"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/klarna"
	"refshop/web/klarnaid"
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
	// The provider clients, one each per process (WithProviderClients); a nil
	// one is built from Config, HTTP and Clock (ProviderClock for KlarnaID).
	Vipps    *vipps.Client
	Klarna   *klarna.Client   // Klarna Payments and the Customer Token API
	KlarnaID *klarnaid.Client // Sign in with Klarna
	Altpay   *altpay.Client   // Alternative Payments
	// PasswordCost is bcrypt's cost; tests lower it. 0 means bcrypt.DefaultCost.
	PasswordCost int
	// ProviderClock is the emulated providers' time: the sandbox clock when
	// the sandbox runs in this process (nil otherwise). A flow whose provider
	// is emulated runs its token lifetimes on it, so POST /control/clock ages
	// the shop's stored tokens as it ages the provider's.
	ProviderClock clock.Clock
}

// App carries the dependencies every handler uses.
type App struct {
	Deps
	echo     *echo.Echo
	throttle *throttle
	csp      cspPolicy

	// Extension points the payment flows fill in routes.go.
	checkoutMethods []func(c echo.Context, cart pricedCart) (templ.Component, error)
	accountPanels   []func(c echo.Context, u db.User) (templ.Component, error) // "Linked accounts"
	accountSections []func(c echo.Context, u db.User) (templ.Component, error) // sections after the orders
	orderParts      []func(c echo.Context, o db.Order) (orderPart, error)
	// orderRefresh brings an order up to date with its provider before its
	// page is built (a flow that settles pending orders when viewed).
	orderRefresh []func(c echo.Context, o db.Order) (db.Order, error)
	// background runs for the life of the server (RunBackground): sweeps
	// that settle what no request will.
	background    []func(ctx context.Context)
	signInOptions []func(c echo.Context) (templ.Component, error)

	// klarnaID is Sign in with Klarna: Klarna payments asks it for the
	// signed-in customer's access token.
	klarnaID *klarnaIDFlow
}

// orderPart is what a payment flow adds to an order page.
type orderPart struct {
	Details []templ.Component
	Actions []templ.Component
}

// New builds the shop's server.
func New(d Deps) *App {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	d = WithProviderClients(d)
	a := &App{Deps: d, throttle: newThrottle(d.Clock), csp: newCSP(d.Config)}
	a.echo = a.newEcho()
	a.routes()
	return a
}

// RunBackground runs the flows' background work until ctx ends. main starts
// it beside the server.
func (a *App) RunBackground(ctx context.Context) {
	var wg sync.WaitGroup
	for _, f := range a.background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	wg.Wait()
}

// ServeHTTP serves the shop.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.echo.ServeHTTP(w, r) }
