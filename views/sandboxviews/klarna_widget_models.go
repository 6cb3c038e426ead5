package sandboxviews

// KlarnaPersona is a Klarna test customer the widget can log in as.
type KlarnaPersona struct {
	Email    string
	Name     string
	Declined bool // Klarna refuses this customer at approval
}

// KlarnaWidgetView is the Klarna Payments widget framed by the merchant's page.
type KlarnaWidgetView struct {
	SessionID string
	Parent    string // the framing page's origin: the only one the widget talks to
	Personas  []KlarnaPersona
}
