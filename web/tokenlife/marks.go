package tokenlife

import (
	"encoding/json"
	"maps"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// mark is a whole redaction mark of a token (redact.Mark): its last four
// characters, when it is long enough to show them, and its hash prefix. A
// merchant credential's mark ("[redacted credential #…]") is not a token's.
var mark = regexp.MustCompile(`^\[redacted ((?:…\S{4} )?#[0-9a-f]{8})\]$`)

// fingerprint is the tag of v when v is wholly a token's mark.
func fingerprint(v string) (string, bool) {
	m := mark.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// sighting is a token in one place of an exchange.
type sighting struct {
	fp    string
	place Place
	hint  string // a revocation's token_type_hint
	// From an answer: the lifetime or expiry given beside it.
	lifetime  time.Duration
	expiresAt time.Time
}

// requestSightings are the tokens x's request presented: credentials in
// headers ("Bearer [redacted …]"), path segments, query parameters and
// body fields that are wholly a mark. A mark inside other text (a URL in
// a JSON field) is not taken for a token presented.
func requestSightings(x Exchange) []sighting {
	var out []sighting
	for _, name := range slices.Sorted(maps.Keys(x.ReqHeaders)) {
		for _, v := range x.ReqHeaders[name] {
			fp, ok := fingerprint(v)
			if !ok {
				if _, cred, cut := strings.Cut(v, " "); cut {
					fp, ok = fingerprint(cred)
				}
			}
			if ok {
				out = append(out, sighting{fp: fp, place: Place{In: "header", Name: name}})
			}
		}
	}
	out = append(out, urlSightings(x.URL, x.PathTemplate)...)
	return append(out, bodySightings(x.ReqBody, x.ReqHeaders.Get("Content-Type"), "body")...)
}

// answerSightings are the tokens x's answer body gave.
func answerSightings(x Exchange) []sighting {
	return bodySightings(x.RespBody, x.RespHeaders.Get("Content-Type"), "answer")
}

// urlSightings are the marks in a redacted URL's path (named by the path
// template's parameter when it has one there) and query.
func urlSightings(raw, template string) []sighting {
	rest := raw
	if _, after, ok := strings.Cut(rest, "://"); ok {
		rest = ""
		if i := strings.IndexByte(after, '/'); i >= 0 {
			rest = after[i:]
		}
	}
	path, query, _ := strings.Cut(rest, "?") // a mark holds no "?"
	var out []sighting
	segs := strings.Split(path, "/")
	var tsegs []string
	if template != "" {
		tsegs = strings.Split(strings.TrimPrefix(template, "/"), "/")
	}
	off := len(segs) - len(tsegs) // the template matches the path's end
	for i, seg := range segs {
		fp, ok := fingerprint(seg)
		if !ok {
			continue
		}
		name := ""
		if j := i - off; tsegs != nil && j >= 0 && j < len(tsegs) {
			if t := tsegs[j]; strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				name = t[1 : len(t)-1]
			}
		}
		out = append(out, sighting{fp: fp, place: Place{In: "path", Name: name}})
	}
	if query != "" {
		out = append(out, pairSightings(query, "query")...)
	}
	return out
}

// bodySightings are the marks in a JSON or form body, in place in.
func bodySightings(body, contentType, in string) []sighting {
	if body == "" {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		form := in
		if in == "body" {
			form = "form"
		}
		return pairSightings(body, form)
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil // not JSON: what redact tagged by shape there has no name to go by
	}
	var out []sighting
	walk(v, "", in, &out)
	return out
}

// walk collects the marks in a decoded JSON value. A token's lifetime is
// its object's expires_in (or expires_at): the access token's, when the
// object holds one (RFC 6749 5.1: expires_in is the access token's), else
// the object's only token's.
func walk(v any, key, in string, out *[]sighting) {
	switch v := v.(type) {
	case map[string]any:
		var here []sighting
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if s, ok := v[k].(string); ok {
				if fp, ok := fingerprint(s); ok {
					here = append(here, sighting{fp: fp, place: Place{In: in, Name: k}})
				}
				continue
			}
			walk(v[k], k, in, out)
		}
		at := slices.IndexFunc(here, func(s sighting) bool { return s.place.Name == "access_token" })
		if at < 0 && len(here) == 1 {
			at = 0
		}
		if at >= 0 {
			here[at].lifetime = seconds(v["expires_in"])
			if here[at].lifetime == 0 {
				here[at].expiresAt = instant(v["expires_at"])
			}
		}
		*out = append(*out, here...)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				if fp, ok := fingerprint(s); ok {
					*out = append(*out, sighting{fp: fp, place: Place{In: in, Name: key}})
				}
				continue
			}
			walk(e, key, in, out)
		}
	}
}

// pairSightings are the marks among a query's or form's values. The
// recorder writes marks unescaped.
func pairSightings(raw, in string) []sighting {
	type pair struct{ k, v string }
	var pairs []pair
	hint := ""
	for _, p := range strings.FieldsFunc(raw, func(c rune) bool { return c == '&' || c == ';' }) {
		k, v, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if k == "token_type_hint" {
			hint = v
		}
		pairs = append(pairs, pair{k, v})
	}
	var out []sighting
	for _, p := range pairs {
		fp, ok := fingerprint(p.v)
		if !ok {
			if uv, err := url.QueryUnescape(p.v); err == nil {
				fp, ok = fingerprint(uv)
			}
		}
		if ok {
			out = append(out, sighting{fp: fp, place: Place{In: in, Name: p.k}, hint: hint})
		}
	}
	return out
}

// seconds reads expires_in: a number, or a string of one (Vipps sends
// "3600").
func seconds(v any) time.Duration {
	var f float64
	switch v := v.(type) {
	case json.Number:
		f, _ = v.Float64()
	case string:
		f, _ = strconv.ParseFloat(v, 64)
	}
	if f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// instant reads expires_at: Unix seconds, or RFC 3339 text.
func instant(v any) time.Time {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil && n > 0 {
			return time.Unix(n, 0).UTC()
		}
	case string:
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// containsGrantError says whether an OAuth error answer is invalid_grant:
// the refresh token is not (or no longer) valid.
func containsGrantError(body string) bool {
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal([]byte(body), &e) == nil && e.Error == "invalid_grant"
}
