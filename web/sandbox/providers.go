package sandbox

import (
	"log/slog"
	"net/http"

	"refshop/web/sandbox/control"
	"refshop/web/sandbox/klarna"
)

// providers register each emulated provider's routes below its base path
// (/klarna, /vipps, /altpay), its operations and its error shape.
var providers = []func(mux *http.ServeMux, st *control.State, log *slog.Logger){
	klarna.Register,
}
