package web

import (
	"github.com/labstack/echo/v4"

	"refshop/static"
)

// routes is every route the shop serves, in one place. Payment flows add their
// routes and extension points in their own marked block below.
func (a *App) routes() {
	e := a.echo
	assets := e.Group("/static", staticCache)
	for _, dir := range []string{"css", "img", "js"} {
		assets.StaticFS("/"+dir, echo.MustSubFS(static.FS, dir))
	}
	e.GET("/healthz", a.healthz)

	e.GET("/", a.home)
	e.GET("/products/:id", a.product)

	e.GET("/cart", a.cart)
	e.POST("/cart/items", a.addToCart)
	e.POST("/cart/items/:id", a.updateCartItem)
	e.POST("/cart/items/:id/remove", a.removeCartItem)

	e.GET("/signup", a.signUpForm)
	e.POST("/signup", a.signUp)
	e.GET("/signin", a.signInForm)
	e.POST("/signin", a.signIn)
	e.POST("/signout", a.signOut)
	e.GET("/account", a.account, a.requireUser)

	e.GET("/checkout", a.checkout)
	// GET, though viewing may move the order (orderRefresh): it only records
	// what the provider reports, so a repeat or a prefetch changes nothing more.
	e.GET("/orders/:id", a.order)

	// --- payment flows: one block each ---

	// --- Vipps MobilePay (issue 3): web/checkout_vipps.go ---
	vp := newVippsFlow(a)
	e.POST("/checkout/vipps", vp.checkout)
	// GET: Vipps sends the browser back with a redirect; the handler trusts
	// only the order id and records what Vipps reports (capture uses the stored key).
	e.GET("/checkout/vipps/return", vp.returned)
	a.checkoutMethods = append(a.checkoutMethods, vp.method)
	a.orderRefresh = append(a.orderRefresh, vp.refresh)
	a.orderParts = append(a.orderParts, vp.orderPart)
	a.background = append(a.background, vp.sweep)
	// --- end Vipps MobilePay ---

	// --- Alternative Payments, pay by invoice (issue 6): web/checkout_altpay.go ---
	e.POST("/checkout/altpay", a.altpayCheckout)
	e.GET("/invoices/:id", a.altpayInvoicePage)
	e.POST("/invoices/:id/confirm", a.altpayConfirm)
	e.POST("/api/altpay/invoices/:id/token", a.altpayToken)
	a.checkoutMethods = append(a.checkoutMethods, a.altpayMethod)
	a.accountSections = append(a.accountSections, a.altpayUnpaid) // unpaid invoices, after the orders
	a.orderParts = append(a.orderParts, a.altpayOrderPart)
	a.orderRefresh = append(a.orderRefresh, a.altpayRefresh)
	// --- end Alternative Payments ---

	// --- Klarna Payments with account linking (issue 4): web/checkout_klarna.go ---
	k := newKlarnaFlow(a)
	a.checkoutMethods = append(a.checkoutMethods, k.checkoutMethod)
	a.accountPanels = append(a.accountPanels, k.accountPanel)
	a.orderParts = append(a.orderParts, k.orderPart)
	e.POST("/checkout/klarna", k.start)
	// GET, though it cancels an attempt whose Klarna session has expired:
	// that records a fact the clock decided, the same on every repeat.
	e.GET("/checkout/klarna/:id", k.payPage)
	e.POST("/checkout/klarna/:id/authorize", k.authorized)
	e.POST("/orders/:id/klarna/buy-again", k.buyAgain, a.requireUser)
	e.POST("/account/klarna/unlink", k.unlink, a.requireUser)
	// --- end Klarna ---

	// --- Sign in with Klarna (issue 5): web/klarnaid.go ---
	kid := newKlarnaIDFlow(a)
	a.klarnaID = kid
	e.POST("/auth/klarna/start", kid.start)
	// GET: the OpenID Connect redirect; the state in the session makes it work once.
	e.GET("/auth/klarna/callback", kid.callback)
	e.POST("/account/klarna/connect", kid.connect, a.requireUser)
	e.POST("/account/klarna/disconnect", kid.disconnect, a.requireUser)
	a.signInOptions = append(a.signInOptions, kid.signInOption)
	a.accountPanels = append(a.accountPanels, kid.accountPanel)
	a.accountSections = append(a.accountSections, kid.accountOffer)
	a.checkoutMethods = append(a.checkoutMethods, kid.checkoutNotice)
	a.background = append(a.background, kid.sweep)
	// --- end Sign in with Klarna ---
}
