// Package views holds the shop's templ components. Each page is a pure
// function of its view model; handlers in package web build the models.
//
// One rule places everything: the components of <name>.templ take the view
// models declared in <name>_models.go beside it (plain Go, so the compiler
// and editors read them without templ), and templ generates <name>_templ.go.
// A flow's components and models carry its name: vipps, klarna (payments
// and account linking), klarnasignin, altpay; the shop's own pages are
// layout, catalog, cart, auth, account and errors. The sandbox's pages are
// in views/sandboxviews, by the same rule.
package views
