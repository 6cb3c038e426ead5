package views

import "github.com/a-h/templ"

// AuthForm is the sign-up or sign-in form with what the user typed. The
// password is never echoed back.
type AuthForm struct {
	Email  string
	Name   string
	Next   string // where to go after signing in (a local path)
	Errors FormErrors
	// Extra holds sign-in options added by provider flows (Sign in with Klarna).
	Extra []templ.Component
}
