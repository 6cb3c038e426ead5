package exchanges

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter selects recorded exchanges: each field that is set must match.
type Filter struct {
	Provider  string
	Operation string
	Origin    string   // "browser" or "server"
	Refs      []string // an exchange matches when any of its refs is any of these
	Limit     int      // the latest Limit matches; 0: DefaultLimit
}

const (
	// DefaultLimit and MaxLimit bound how many exchanges one list answers.
	DefaultLimit = 100
	MaxLimit     = 1000
)

// List returns the latest f.Limit exchanges matching f, oldest first.
func (rec *Recorder) List(ctx context.Context, f Filter) ([]Exchange, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"provider", f.Provider}, {"operation", f.Operation}, {"origin", f.Origin}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if len(f.Refs) > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM json_each(exchanges.refs) WHERE value IN (?"+strings.Repeat(", ?", len(f.Refs)-1)+"))")
		for _, r := range f.Refs {
			args = append(args, r)
		}
	}
	q := `SELECT id, at, sandbox_time, provider, operation, origin, method, path, pattern, status, lost, duration_ms,
		idempotency_key, request_headers, request_body, response_headers, response_body, refs FROM exchanges`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	args = append(args, limit)
	rows, err := rec.db.DB().QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sandbox exchanges: list: %w", err)
	}
	defer rows.Close()
	out := []Exchange{}
	for rows.Next() {
		var x Exchange
		var at, sandboxTime, reqH, respH, refs string
		if err := rows.Scan(&x.ID, &at, &sandboxTime, &x.Provider, &x.Operation, &x.Origin, &x.Method, &x.Path, &x.Pattern,
			&x.Status, &x.Lost, &x.DurationMS, &x.IdempotencyKey, &reqH, &x.RequestBody, &respH, &x.ResponseBody, &refs); err != nil {
			return nil, fmt.Errorf("sandbox exchanges: list: %w", err)
		}
		x.At, err = time.Parse(time.RFC3339Nano, at)
		if err == nil {
			x.SandboxTime, err = time.Parse(time.RFC3339Nano, sandboxTime)
		}
		if err == nil {
			err = json.Unmarshal([]byte(reqH), &x.RequestHeaders)
		}
		if err == nil {
			err = json.Unmarshal([]byte(respH), &x.ResponseHeaders)
		}
		if err == nil {
			err = json.Unmarshal([]byte(refs), &x.Refs)
		}
		if err != nil {
			return nil, fmt.Errorf("sandbox exchanges: exchange %d: %w", x.ID, err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sandbox exchanges: list: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// Routes registers GET /control/exchanges on mux.
func (rec *Recorder) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /control/exchanges", rec.serveList)
}

// serveList is GET /control/exchanges?provider=&operation=&origin=&ref=&limit=.
func (rec *Recorder) serveList(w http.ResponseWriter, r *http.Request) {
	f, err := rec.ParseFilter(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	list, err := rec.List(r.Context(), f)
	if err != nil {
		rec.log.Error("sandbox: listing the recorded exchanges failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "listing the recorded exchanges failed; see the sandbox's log"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"exchanges": list})
}

// ParseFilter reads a filter from GET /control/exchanges' query, refusing
// unknown parameters and values with an error that says what is allowed.
func (rec *Recorder) ParseFilter(q map[string][]string) (Filter, error) {
	f := Filter{Limit: DefaultLimit}
	for name, vals := range q {
		switch name {
		case "provider", "operation", "origin", "limit":
			if len(vals) > 1 {
				return f, fmt.Errorf("%q given %d times; give it once (only \"ref\" repeats)", name, len(vals))
			}
		case "ref":
			for _, v := range vals {
				if v != "" {
					f.Refs = append(f.Refs, v)
				}
			}
		default:
			return f, fmt.Errorf("unknown parameter %q; known: provider, operation, origin, ref (repeatable), limit", name)
		}
	}
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f.Provider, f.Operation, f.Origin = get("provider"), get("operation"), get("origin")
	if f.Provider != "" && !slices.Contains(Providers, f.Provider) {
		return f, fmt.Errorf("unknown provider %q; known: %s", f.Provider, strings.Join(Providers, ", "))
	}
	if ops := rec.operations(); f.Operation != "" && !slices.Contains(ops, f.Operation) {
		return f, fmt.Errorf("unknown operation %q; known: %s", f.Operation, strings.Join(ops, ", "))
	}
	if f.Origin != "" && f.Origin != "browser" && f.Origin != "server" {
		return f, fmt.Errorf(`unknown origin %q; known: "browser", "server"`, f.Origin)
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return f, fmt.Errorf("limit must be a whole number from 1 to %d, not %q", MaxLimit, v)
		}
		f.Limit = n
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
