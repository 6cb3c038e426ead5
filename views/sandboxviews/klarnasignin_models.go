package sandboxviews

// KlarnaSignInPageView is the Sign in with Klarna sandbox's sign-in page: the
// test identities to pick from, or any email address.
type KlarnaSignInPageView struct {
	Challenge  string // the sign-in in progress
	Action     string // where the form posts
	Identities []Credential
	Email      string // what the customer typed, when it was refused
	Error      string
	ShopURL    string
}

// KlarnaSignInConsentView is the consent page: what the shop asks to see.
type KlarnaSignInConsentView struct {
	Challenge string
	Action    string
	Name      string
	Email     string
	Scopes    []string // in words
	ShopURL   string
}

// KlarnaSignInErrorView is an error page of the sign-in sandbox (a request it
// will not send back to the shop).
type KlarnaSignInErrorView struct {
	Title   string
	Message string
	ShopURL string
}
