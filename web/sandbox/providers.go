package sandbox

import (
	"log/slog"
	"net/http"

	"refshop/web/sandbox/altpay"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/klarna"
	"refshop/web/sandbox/klarnasignin"
	"refshop/web/sandbox/vipps"
)

// providers register each emulated provider's routes below its base path
// (/klarna, /vipps, /altpay), its operations and its error shape.
var providers = []func(mux *http.ServeMux, st *control.State, log *slog.Logger){
	klarna.Register,
	altpay.Register,
	vipps.Register,
	klarnasignin.Register,
}
