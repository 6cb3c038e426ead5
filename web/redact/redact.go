// Package redact removes secrets from a recorded exchange between the shop
// and a provider before it is stored or shown. Each secret is replaced by a
// marked fingerprint, "[redacted …Xy7Q #1f0c9a2b]" (secret.Tag: its last four
// characters and a hash prefix), so a reader can tell two tokens apart and
// follow one across exchanges without seeing any.
//
// Where secrets are is said by name (Rules: headers, JSON fields at any
// depth, form fields, query parameters, path template parameters; Common
// for every provider, Providers for each) and, as a second line, by shape:
// wherever text is kept as is (unknown JSON fields, header values, bodies
// that are not valid JSON or form), a JWT, a Klarna customer token
// ("krn:...:customer-token:..."), an Ory token (ory_at_, ory_rt_, ory_ac_:
// Sign in with Klarna's) or a Bearer/Basic credential is tagged. A body
// that claims to be JSON but does not parse is kept as text under the same
// shape rules, plus the named JSON and form fields found by pattern, so a
// cut or broken body hides no less than a whole one.
//
// Bodies are redacted whole, then cut to MaxBody with a marker.
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"refshop/web/secret"
)

// MaxBody is the most of each body kept after redaction. Provider answers
// are a few KiB; a bigger one is cut with a marker saying how big it was.
const MaxBody = 64 << 10

// Exchange is one request and its answer, as sent and received (redacted
// once Redact returns it).
type Exchange struct {
	Method string
	URL    string
	// PathTemplate names the URL path's parameters ("/tokens/{customer_token}/order",
	// outbound.Op.Path): a segment under a parameter Rules.Path names is
	// tagged. The template matches the path's end (the base URL may add a
	// prefix). "" means none.
	PathTemplate string
	ReqHeader    http.Header
	ReqBody      []byte
	RespHeader   http.Header // nil when there was no answer
	RespBody     []byte
}

// Mark is how a redacted value reads: "[redacted …Xy7Q #1f0c9a2b]".
func Mark(value string) string { return "[redacted " + secret.Tag(value) + "]" }

// Redact returns a copy of x with provider's secrets (and Common's)
// replaced by Mark.
func Redact(provider string, x Exchange) Exchange {
	r := rulesFor(provider)
	return Exchange{
		Method:       x.Method,
		URL:          r.url(x.URL, x.PathTemplate),
		PathTemplate: x.PathTemplate,
		ReqHeader:    r.header(x.ReqHeader),
		ReqBody:      capBody(r.body(x.ReqBody, x.ReqHeader.Get("Content-Type"))),
		RespHeader:   r.header(x.RespHeader),
		RespBody:     capBody(r.body(x.RespBody, x.RespHeader.Get("Content-Type"))),
	}
}

// markIfSet marks a non-empty value; an empty one stays empty, so a reader
// sees that none was sent.
func markIfSet(v string) string {
	if v == "" {
		return ""
	}
	return Mark(v)
}

// header redacts a header set: named headers wholly (Authorization: the
// credential after the scheme; cookies: each value), URLs in Location, and
// token shapes in the rest.
func (r *ruleset) header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for name, vals := range h {
		lname := strings.ToLower(name)
		nv := make([]string, len(vals))
		for i, v := range vals {
			switch {
			case lname == "cookie" || lname == "set-cookie":
				nv[i] = cookie(v, lname == "set-cookie")
			case lname == "authorization" || lname == "proxy-authorization":
				nv[i] = credential(v)
			case r.headers[lname]:
				nv[i] = markIfSet(v)
			case lname == "location" || lname == "content-location":
				nv[i] = r.url(v, "")
			default:
				nv[i] = shapes(v)
			}
		}
		out[name] = nv
	}
	return out
}

// credential keeps an Authorization header's scheme and tags the rest:
// "Bearer [redacted …]", "Basic [redacted …]".
func credential(v string) string {
	if scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok && !strings.ContainsAny(scheme, "=,") {
		return scheme + " " + markIfSet(strings.TrimSpace(cred))
	}
	return markIfSet(v)
}

// cookie tags every cookie's value in a Cookie header, or the one cookie's
// in a Set-Cookie header (its attributes kept).
func cookie(v string, set bool) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		if set && i > 0 {
			break // attributes: Path, Expires, HttpOnly ...
		}
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			parts[i] = markIfSet(strings.TrimSpace(p))
			continue
		}
		parts[i] = name + "=" + markIfSet(val)
	}
	return strings.Join(parts, ";")
}

// url redacts a URL: named query parameters, a password in its userinfo,
// path segments under secret template parameters, and token shapes in the
// remaining segments. Marks are written unescaped, for reading.
func (r *ruleset) url(raw, template string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return shapes(raw)
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme + ":")
	}
	if u.Opaque != "" {
		b.WriteString(shapes(u.Opaque))
	} else {
		if u.Host != "" || u.User != nil {
			b.WriteString("//")
		}
		if u.User != nil {
			b.WriteString(u.User.Username())
			if p, ok := u.User.Password(); ok {
				b.WriteString(":" + markIfSet(p))
			}
			b.WriteString("@")
		}
		b.WriteString(u.Host)
		b.WriteString(r.path(u.EscapedPath(), template))
	}
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + r.pairs(u.RawQuery, r.query))
	}
	if u.Fragment != "" {
		// OAuth's implicit flow puts tokens in the fragment, as a query.
		b.WriteString("#" + r.pairs(u.EscapedFragment(), r.query))
	}
	return b.String()
}

// path tags the segments under secret parameters of template, matched
// against the path's last segments, and token shapes in the others.
func (r *ruleset) path(escaped, template string) string {
	segs := strings.Split(escaped, "/")
	secretAt := map[int]bool{}
	if tsegs := strings.Split(strings.TrimPrefix(template, "/"), "/"); template != "" && len(tsegs) <= len(segs) {
		off := len(segs) - len(tsegs)
		for i, t := range tsegs {
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				if r.params[strings.ToLower(t[1:len(t)-1])] {
					secretAt[off+i] = true
				}
			} else if t != segs[off+i] {
				secretAt = nil // not this path's template: shapes only
				break
			}
		}
	}
	for i, s := range segs {
		v, err := url.PathUnescape(s)
		if err != nil {
			v = s
		}
		if secretAt[i] {
			segs[i] = markIfSet(v)
		} else if sv := shapes(v); sv != v {
			segs[i] = sv
		}
	}
	return strings.Join(segs, "/")
}

// pairs redacts a query string or form body: values of named keys are
// tagged, the others checked for token shapes. Order and the other pairs'
// encoding are kept.
func (r *ruleset) pairs(raw string, names map[string]bool) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = v
		}
		switch {
		case names[strings.ToLower(key)]:
			parts[i] = k + "=" + markIfSet(val)
		case strings.HasPrefix(val, "http://") || strings.HasPrefix(val, "https://"):
			if rv := r.url(val, ""); rv != val {
				parts[i] = k + "=" + rv
			}
		default:
			if sv := shapes(val); sv != val {
				parts[i] = k + "=" + sv
			}
		}
	}
	return strings.Join(parts, "&")
}

// body redacts a body by its content type: JSON, form, or text.
func (r *ruleset) body(b []byte, contentType string) []byte {
	if len(b) == 0 {
		return nil
	}
	if !utf8.Valid(b) {
		return fmt.Appendf(nil, "[%d bytes, not text: not kept]", len(b))
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(b)
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	switch {
	case mt == "application/x-www-form-urlencoded":
		return []byte(r.pairs(string(b), r.form))
	case isJSON || (mt == "" && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')):
		if out, ok := r.jsonBody(b); ok {
			return out
		}
	}
	return []byte(r.text(string(b)))
}

// jsonBody rewrites a JSON body token by token, keeping the fields' order
// (a reader compares it with the provider's documentation) but not the
// spacing: secret fields' values are tagged, other strings checked for token
// shapes and, when URLs, for named query parameters. ok is false when the
// body does not parse.
func (r *ruleset) jsonBody(b []byte) (_ []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int    // tokens written in it: keys and values
		key    string // the current field's name
		secret bool   // everything inside is a secret field's value
	}
	var stack []frame
	var out bytes.Buffer
	top := 0 // top-level values written (a stream may hold several)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		inSecret := false
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
				stack = stack[:len(stack)-1]
				out.WriteByte(byte(d))
				continue
			}
			if f.object && f.n%2 == 0 { // a key
				if f.n > 0 {
					out.WriteByte(',')
				}
				f.key, _ = tok.(string)
				writeJSONString(&out, f.key)
				out.WriteByte(':')
				f.n++
				continue
			}
			if !f.object && f.n > 0 {
				out.WriteByte(',')
			}
			f.n++
			inSecret = f.secret || (f.object && r.json[strings.ToLower(f.key)])
		} else {
			if top > 0 {
				out.WriteByte('\n')
			}
			top++
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{', secret: inSecret})
		case string:
			switch {
			case inSecret:
				writeJSONString(&out, markIfSet(v))
			case strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://"):
				writeJSONString(&out, r.url(v, ""))
			default:
				writeJSONString(&out, shapes(v))
			}
		case json.Number:
			if inSecret {
				writeJSONString(&out, Mark(v.String()))
			} else {
				out.WriteString(v.String())
			}
		case bool:
			fmt.Fprint(&out, v)
		case nil:
			out.WriteString("null")
		}
	}
	if len(stack) > 0 {
		return nil, false
	}
	return out.Bytes(), true
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	// json.Marshal escapes <, > and & for HTML; the body is shown as text.
	enc = bytes.ReplaceAll(enc, []byte(`\u003c`), []byte("<"))
	enc = bytes.ReplaceAll(enc, []byte(`\u003e`), []byte(">"))
	enc = bytes.ReplaceAll(enc, []byte(`\u0026`), []byte("&"))
	b.Write(enc)
}

// text redacts a body that is neither valid JSON nor a form (an HTML error
// page, a cut JSON body): named JSON fields' string values and named form
// fields found by pattern, then token shapes.
func (r *ruleset) text(s string) string {
	s = jsonPair.ReplaceAllStringFunc(s, func(m string) string {
		sub := jsonPair.FindStringSubmatch(m)
		if !r.json[strings.ToLower(sub[1])] {
			return m
		}
		v := sub[2]
		if uq, err := unquoteJSON(v); err == nil {
			v = uq
		}
		return strings.TrimSuffix(m, `"`+sub[2]+`"`) + `"` + markIfSet(v) + `"`
	})
	s = formPair.ReplaceAllStringFunc(s, func(m string) string {
		sub := formPair.FindStringSubmatch(m)
		if !r.form[strings.ToLower(sub[2])] {
			return m
		}
		v, err := url.QueryUnescape(sub[3])
		if err != nil {
			v = sub[3]
		}
		return sub[1] + sub[2] + "=" + markIfSet(v)
	})
	return shapes(s)
}

func unquoteJSON(v string) (string, error) {
	var s string
	err := json.Unmarshal([]byte(`"`+v+`"`), &s)
	return s, err
}

var (
	jsonPair = regexp.MustCompile(`"([A-Za-z0-9_]+)"\s*:\s*"((?:[^"\\]|\\.)*)"`)
	formPair = regexp.MustCompile(`(^|[?&\s])([A-Za-z0-9_]+)=([^&\s"'<>]+)`)
	// Token shapes, tagged wherever text is kept as is. A mark contains
	// none of them.
	tokenShapes = []*regexp.Regexp{
		// Bearer and Basic credentials (in an error body that echoes a header).
		regexp.MustCompile(`(?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})`),
		// JWTs: a header and a payload, base64url JSON objects ("eyJ"), and a
		// signature (possibly empty).
		regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`),
		// Klarna's account-linking customer token.
		regexp.MustCompile(`krn:[A-Za-z0-9:._-]*customer-token:[A-Za-z0-9._-]+`),
		// Ory Hydra's authorization codes, access and refresh tokens (Sign in
		// with Klarna).
		regexp.MustCompile(`ory_(?:ac|at|rt)_[A-Za-z0-9._~-]+`),
	}
)

// shapes tags the token shapes in s.
func shapes(s string) string {
	for i, re := range tokenShapes {
		if i == 0 {
			s = re.ReplaceAllStringFunc(s, func(m string) string {
				sub := re.FindStringSubmatchIndex(m)
				return m[:sub[2]] + Mark(m[sub[2]:sub[3]])
			})
			continue
		}
		s = re.ReplaceAllStringFunc(s, Mark)
	}
	return s
}

// capBody cuts a redacted body to MaxBody (on a character boundary) and
// says so.
func capBody(b []byte) []byte {
	if len(b) <= MaxBody {
		return b
	}
	n := MaxBody
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return fmt.Appendf(b[:n:n], "\n[cut: %d of %d bytes kept]", n, len(b))
}
