package sandboxviews

// KlarnaIDSignInView is the Sign in with Klarna sandbox's sign-in page: the
// test identities to pick from, or any email address.
type KlarnaIDSignInView struct {
	Challenge  string // the sign-in in progress
	Action     string // where the form posts
	Identities []Credential
	Email      string // what the customer typed, when it was refused
	Error      string
	ShopURL    string
}

// KlarnaIDConsentView is the consent page: what the shop asks to see.
type KlarnaIDConsentView struct {
	Challenge string
	Action    string
	Name      string
	Email     string
	Scopes    []string // in words
	ShopURL   string
}

// KlarnaIDErrorView is an error page of the sign-in sandbox (a request it
// will not send back to the shop).
type KlarnaIDErrorView struct {
	Title   string
	Message string
	ShopURL string
}
