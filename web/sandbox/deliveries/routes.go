package deliveries

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Routes registers the control API's delivery log on mux:
//
//	GET  /control/deliveries?limit=100     {"deliveries": [...]}, the latest limit, oldest first
//	POST /control/deliveries/{id}/replay   send it again now; answers the delivery
//
// Both go through control.State.Wrap like every control route: cross-origin
// writes are refused and a write's body, if any, must be JSON.
func (e *Engine) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /control/deliveries", e.getList)
	mux.HandleFunc("POST /control/deliveries/{id}/replay", e.replay)
}

// DefaultLimit and MaxLimit bound how many deliveries one list answers.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func (e *Engine) getList(w http.ResponseWriter, r *http.Request) {
	limit := DefaultLimit
	for name, vals := range r.URL.Query() {
		if name != "limit" || len(vals) != 1 {
			writeError(w, http.StatusBadRequest, `the only parameter is "limit" (once), 1-1000`)
			return
		}
		n, err := strconv.Atoi(vals[0])
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, `"limit" must be a number from 1 to 1000`)
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, map[string][]Delivery{"deliveries": e.List(limit)})
}

func (e *Engine) replay(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "the delivery id is a positive number (GET /control/deliveries lists them)")
		return
	}
	d, err := e.Replay(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "no delivery "+strconv.FormatInt(id, 10)+" (GET /control/deliveries lists them)")
	case err != nil:
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeJSON(w, http.StatusOK, d)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the control API's own error shape: {"error": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
