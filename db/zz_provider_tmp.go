package db

// TEMPORARY until the db branch lands (typed provider).
type Provider = string

const (
	ProviderVipps  Provider = "vipps"
	ProviderKlarna Provider = "klarna"
	ProviderAltpay Provider = "altpay"
)
