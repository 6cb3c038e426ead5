package views

// KlarnaSignInPanelView is Sign in with Klarna on the account page.
type KlarnaSignInPanelView struct {
	Connected bool
	// Region is the Klarna region of the connection ("eu", "na"), which the
	// panel's buttons act on; RegionName names it for people.
	Region      string
	RegionName  string
	Name        string // as Klarna said at connection
	Email       string
	Since       string
	SignInAgain bool // Klarna ended the grant
	// CanDisconnect: the account has a password to sign in with once
	// Klarna is gone.
	CanDisconnect bool
}

// KlarnaRegionName names a Klarna region for the account page: each region
// is its own Klarna, with its own sign-in.
func KlarnaRegionName(region string) string {
	if region == "na" {
		return "Klarna North America (United States)"
	}
	return "Klarna Europe (Germany, Norway)"
}

// KlarnaSignInAgain is the message a customer whose grant ended sees on the
// account page and at checkout.
const KlarnaSignInAgain = "Sign in with Klarna again to skip the Klarna login at checkout."

// KlarnaSignInProblemView is a Sign in with Klarna that could not complete.
type KlarnaSignInProblemView struct {
	Title   string
	Message string
	// What the customer can do next.
	Actions []KlarnaSignInAction
}

// KlarnaSignInAction is a link on the problem page.
type KlarnaSignInAction struct {
	Label string
	Href  string
}
