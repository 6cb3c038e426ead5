// Package sandboxviews holds the provider sandbox's pages: its index and the
// providers' hosted pages (landing pages, sign-in, widgets).
package sandboxviews

import "refshop/web/sandbox/control"

// Credential is one credential the sandbox accepts.
type Credential struct {
	Name  string
	Value string
}

// ProviderView is one emulated provider part on the index.
type ProviderView struct {
	Name        string
	BaseURL     string
	RealURL     string
	Emulated    bool // false: the shop talks to the real test environment
	Credentials []Credential
}

// IndexView is the sandbox's front page.
type IndexView struct {
	BaseURL   string
	ShopURL   string
	Providers []ProviderView
	State     control.StateView
	// Identities are Sign in with Klarna's test identities, when emulated.
	Identities []Credential
}
