package web

import (
	"net/http"
	"testing"

	"refshop/web/config"
	"refshop/web/market"
	"refshop/web/vipps"
)

// cmd/shop builds the provider clients once; New keeps the ones it is given
// and builds the missing ones from the configuration.
func TestProviderClientsComeFromDepsOrConfig(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	mine := vipps.New(vipps.Config{BaseURL: cfg.Vipps.APIURL})
	d := WithProviderClients(Deps{Config: cfg, HTTP: http.DefaultClient, Vipps: mine})
	if d.Vipps != mine {
		t.Error("a given client was replaced")
	}
	if d.Klarna == nil || len(d.KlarnaSignIn) != 2 || d.Altpay == nil {
		t.Fatalf("missing clients were not built: %+v", d)
	}
	again := WithProviderClients(d)
	if again.Klarna != d.Klarna || again.KlarnaSignIn[market.RegionNA] != d.KlarnaSignIn[market.RegionNA] || again.Altpay != d.Altpay {
		t.Error("building twice made new clients (each must be one per process)")
	}
	app := newTestApp(t, func(deps *Deps) { deps.Vipps = mine })
	if newVippsFlow(app.App).client != mine {
		t.Error("the Vipps flow does not use the client from Deps")
	}
}
