// Package sandboxviews holds the provider sandbox's pages: its index and the
// providers' hosted pages (landing pages, sign-in, widgets). Components are
// pure functions of the view models here; the sandbox maps its own state into
// them, so this package imports nothing of the sandbox's.
//
// The same rule as package views places everything: the components of
// <name>.templ take the view models in <name>_models.go beside it.
package sandboxviews
