package views

// ErrorView is an error page. Message is always customer-safe text.
type ErrorView struct {
	Status    int
	Title     string
	Message   string
	Reference string // a support reference: the request id or a provider correlation id
}
