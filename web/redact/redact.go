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
// that is not valid JSON or a form (JSON sent as text/plain, a cut or broken
// body, "key: value" text) is kept as text under the same shape rules, plus
// the named fields found by pattern in any quoting ("name": "v", "name": 1,
// \"name\":\"v\", 'name': 'v', name: v, name=v), so it hides no less than a
// whole JSON body; so are the string values of a JSON body (an error
// message that quotes a request).
//
// Bodies are redacted whole, then cut to MaxBody with a marker.
package redact

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
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
	// Inbound: the provider called the shop (a webhook delivery, a
	// callback). The credential such a call presents is the shop's own
	// (the webhook secret_key as a Bearer) or a signature made with it
	// (Vipps MobilePay's HMAC-SHA256): it is marked as a credential
	// (CredentialMark), whatever its scheme, so nothing of it shows and it
	// is never taken for an access token.
	Inbound bool
}

// Mark is how a redacted value reads: "[redacted …Xy7Q #1f0c9a2b]".
func Mark(value string) string { return "[redacted " + secret.Tag(value) + "]" }

// credentialKey keys CredentialMark's hash: random per process, so a mark
// can be compared with marks of the same process but never checked against
// a guessed credential offline.
var credentialKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}()

// CredentialMark is how a merchant's own credential reads (a client secret,
// an API key, the password in Basic auth): "[redacted credential
// #1f0c9a2b]". Unlike Mark it shows no characters of the value, and its hash
// is keyed: these marks reach customers' order pages and HAR files, and the
// end of a Basic credential is the end of the password.
func CredentialMark(value string) string {
	if value == "" {
		return ""
	}
	h := hmac.New(sha256.New, credentialKey)
	h.Write([]byte(value))
	return "[redacted credential #" + hex.EncodeToString(h.Sum(nil)[:4]) + "]"
}

// credentialNames are fields that hold a merchant's own credential.
var credentialNames = map[string]bool{"client_secret": true, "password": true, "api_key": true, "client_assertion": true}

// markField marks the value of a secret field named key.
func markField(key, v string) string {
	if credentialNames[strings.ToLower(key)] {
		return CredentialMark(v)
	}
	return markIfSet(v)
}

// Redact returns a copy of x with provider's secrets (and Common's)
// replaced by Mark.
func Redact(provider string, x Exchange) Exchange {
	r := rulesFor(provider)
	return Exchange{
		Method:       x.Method,
		URL:          r.url(x.URL, x.PathTemplate),
		PathTemplate: x.PathTemplate,
		ReqHeader:    r.header(x.ReqHeader, x.Inbound),
		ReqBody:      capBody(r.body(x.ReqBody, x.ReqHeader.Get("Content-Type"))),
		RespHeader:   r.header(x.RespHeader, x.Inbound),
		Inbound:      x.Inbound,
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
// credential after the scheme, or, inbound, a credential's mark; cookies:
// each value), URLs in Location, and token shapes in the rest.
func (r *ruleset) header(h http.Header, inbound bool) http.Header {
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
			case inbound && lname == "authorization":
				nv[i] = ownCredential(v)
			case lname == "authorization" || lname == "proxy-authorization":
				nv[i] = credential(v)
			case r.headers[lname]:
				nv[i] = CredentialMark(v) // client_secret, Ocp-Apim-Subscription-Key, X-Api-Key
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
		if strings.EqualFold(scheme, "Basic") {
			// The merchant's user and password: nothing of it shows.
			return scheme + " " + CredentialMark(strings.TrimSpace(cred))
		}
		return scheme + " " + markIfSet(strings.TrimSpace(cred))
	}
	return CredentialMark(v)
}

// ownCredential marks the credential a provider presents when it calls the
// shop, keeping its scheme: "Bearer [redacted credential #…]". An HMAC
// scheme's parameters keep their names, and SignedHeaders its value (which
// headers were signed, not a secret): "HMAC-SHA256
// SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=[redacted
// credential #…]". The signature is no key, but it is what authenticates
// the call, so it is kept like one.
func ownCredential(v string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || strings.ContainsAny(scheme, "=,") {
		return CredentialMark(v)
	}
	cred = strings.TrimSpace(cred)
	if !strings.HasPrefix(strings.ToUpper(scheme), "HMAC-") {
		return scheme + " " + CredentialMark(cred)
	}
	params := strings.Split(cred, "&")
	for i, p := range params {
		name, val, found := strings.Cut(p, "=")
		switch {
		case !found:
			params[i] = CredentialMark(p)
		case !strings.EqualFold(name, "SignedHeaders"):
			params[i] = name + "=" + CredentialMark(val)
		default:
			params[i] = name + "=" + shapes(val)
		}
	}
	return scheme + " " + strings.Join(params, "&")
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

// namesSecret reports whether template has a secret parameter.
func (r *ruleset) namesSecret(template string) bool {
	for _, t := range strings.Split(template, "/") {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") && r.params[strings.ToLower(t[1:len(t)-1])] {
			return true
		}
	}
	return false
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
				secretAt = nil // not this path's template
				break
			}
		}
	}
	if secretAt == nil && r.namesSecret(template) {
		// The path does not match a template that names a secret: show the
		// template rather than guess which segment holds it.
		return template
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
	// "&" and, as some servers read it, ";" separate pairs: "state=1;code=…".
	parts := strings.FieldsFunc(raw, func(c rune) bool { return c == '&' || c == ';' })
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
			parts[i] = k + "=" + markField(key, val)
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

// jsonBody redacts a JSON body in place: secret fields' values (a string,
// a number, or everything inside an object or array) are tagged, other
// strings checked for token shapes and, when URLs, for named query
// parameters. Everything else, the fields' order and the spacing included,
// is kept byte for byte, so the body reads as the provider's documentation
// shows it. ok is false when the body is not valid JSON.
func (r *ruleset) jsonBody(b []byte) (_ []byte, ok bool) {
	if !json.Valid(b) {
		return nil, false
	}
	type frame struct {
		object bool
		secret bool // a secret field's value: everything inside is secret
	}
	var (
		stack  []frame
		out    []byte // nil until the first change
		copied int    // b[:copied] is in out
		key    []byte // the current object's last key, unquoted
		atKey  bool   // the next string in an object is a key
	)
	replace := func(from, to int, with []byte) {
		out = append(append(out, b[copied:from]...), with...)
		copied = to
	}
	inSecret := func() bool {
		if len(stack) == 0 {
			return false
		}
		f := stack[len(stack)-1]
		return f.secret || (f.object && r.jsonField(key))
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '{' || c == '[':
			stack = append(stack, frame{object: c == '{', secret: inSecret()})
			atKey = c == '{'
		case c == '}' || c == ']':
			stack = stack[:len(stack)-1]
			atKey = false
		case c == ',':
			atKey = len(stack) > 0 && stack[len(stack)-1].object
		case c == '"':
			end := stringEnd(b, i)
			lit := b[i : end+1]
			if atKey {
				key = lit[1 : len(lit)-1]
				if bytes.IndexByte(key, '\\') >= 0 {
					key = []byte(unquoteLiteral(lit))
				}
				atKey = false
			} else if secret := inSecret(); secret || mayChange(lit) {
				// Most strings hold nothing to redact and are not decoded.
				if v, changed := r.jsonString(unquoteLiteral(lit), secret, string(key)); changed {
					replace(i, end+1, quote(v))
				}
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			end := i
			for end+1 < len(b) && strings.IndexByte("+-.eE0123456789", b[end+1]) >= 0 {
				end++
			}
			if inSecret() {
				replace(i, end+1, quote(Mark(string(b[i:end+1]))))
			}
			i = end
		}
	}
	if out == nil {
		return b, true
	}
	return append(out, b[copied:]...), true
}

// jsonField reports whether a JSON field of this name is secret, without
// allocating for the common short name.
func (r *ruleset) jsonField(name []byte) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		return r.json[strings.ToLower(string(name))]
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return r.json[string(buf[:len(name)])]
}

// mayChange is a cheap test that a JSON string literal may need redacting
// when it is not a secret field's: a URL, an escape, a separator of a
// named field in text (fields), or a token shape.
func mayChange(lit []byte) bool {
	return bytes.Contains(lit, []byte("http")) || bytes.IndexAny(lit, "\\:=") >= 0 || maybeShape(string(lit))
}

// jsonString redacts one string value of a JSON body.
func (r *ruleset) jsonString(v string, secret bool, key string) (string, bool) {
	switch {
	case secret:
		return markField(key, v), v != ""
	case strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://"):
		if !strings.ContainsAny(v, "?#@") && !maybeShape(v) {
			return v, false
		}
		rv := r.url(v, "")
		return rv, rv != v
	default:
		// Text (an error message quoting a request): its named fields too.
		sv := shapes(r.fields(v))
		return sv, sv != v
	}
}

// stringEnd returns the index of the quote that ends the JSON string
// starting at b[start] (the body is valid JSON).
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b) - 1
}

// unquoteLiteral decodes a JSON string literal, quotes included.
func unquoteLiteral(lit []byte) string {
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	_ = json.Unmarshal(lit, &s)
	return s
}

// quote encodes s as a JSON string, without json.Marshal's HTML escapes
// (the body is shown as text).
func quote(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// text redacts a body that is neither valid JSON nor a form (an HTML error
// page, a cut JSON body, JSON sent as text/plain, "key: value" lines):
// named fields found by pattern (fields), then token shapes.
func (r *ruleset) text(s string) string {
	return shapes(r.fields(s))
}

// fieldKey finds a field name and its separator in text: "name": (also
// escaped, \"name\":, or single-quoted), name: and name=. The value after
// it is read by fieldValue.
var fieldKey = regexp.MustCompile(`(\\"|"|'|\b)([A-Za-z][A-Za-z0-9_.-]*)(\\"|"|'|)\s*([:=])[ \t]*`)

// fields tags the values of named fields in text, in any of the shapes a
// body that is not parsed may hold them: "name": "v", "name": 123,
// \"name\":\"v\", 'name': 'v', name: v, name=v. A name before ":" is a
// JSON field's (Rules.JSON: "code" there is an error code), before "=" a
// form's or a JSON field's.
func (r *ruleset) fields(s string) string {
	var b strings.Builder
	pos, copied := 0, 0
	for pos < len(s) {
		m := fieldKey.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		for i := range m {
			if m[i] >= 0 {
				m[i] += pos
			}
		}
		open, name, closing, sep := s[m[2]:m[3]], s[m[4]:m[5]], s[m[6]:m[7]], s[m[8]:m[9]]
		pos = m[1]
		lname := strings.ToLower(name)
		if open != closing || !(r.json[lname] || sep == "=" && r.form[lname]) {
			continue
		}
		from, to, v := fieldValue(s, m[1], sep == "=")
		if v == "" {
			continue
		}
		b.WriteString(s[copied:from])
		b.WriteString(markField(name, v))
		copied, pos = to, to
	}
	if copied == 0 {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

// fieldValue reads the value starting at s[at]: a JSON string, an escaped
// one (\"v\"), a single-quoted one, or a bare word or number up to a
// delimiter (URL-decoded after "="). s[from:to] is what to replace; v is
// the value decoded, "" when there is none.
func fieldValue(s string, at int, form bool) (from, to int, v string) {
	rest := s[at:]
	switch {
	case strings.HasPrefix(rest, `\"`):
		end := strings.Index(rest[2:], `\"`)
		if end < 0 {
			end = len(rest) - 2 // cut short: the rest is the value
		}
		raw := rest[2 : 2+end]
		v = strings.ReplaceAll(raw, `\\`, `\`)
		if uq, err := unquoteJSON(v); err == nil {
			v = uq
		}
		return at + 2, at + 2 + end, v
	case strings.HasPrefix(rest, `"`):
		end := stringEnd([]byte(rest), 0)
		if end == len(rest)-1 && (len(rest) == 1 || rest[end] != '"') {
			end = len(rest) // cut short
		}
		raw := rest[1:end]
		v = raw
		if uq, err := unquoteJSON(raw); err == nil {
			v = uq
		}
		return at + 1, at + end, v
	case strings.HasPrefix(rest, "'"):
		end := strings.IndexByte(rest[1:], '\'')
		if end < 0 {
			end = len(rest) - 1
		}
		return at + 1, at + 1 + end, rest[1 : 1+end]
	}
	end := strings.IndexFunc(rest, func(c rune) bool {
		return unicode.IsSpace(c) || strings.ContainsRune(`,;&"'<>{}[]()\`, c)
	})
	if end < 0 {
		end = len(rest)
	}
	v = rest[:end]
	if form {
		if uq, err := url.QueryUnescape(v); err == nil {
			v = uq
		}
	}
	return at, at + end, v
}

func unquoteJSON(v string) (string, error) {
	var s string
	err := json.Unmarshal([]byte(`"`+v+`"`), &s)
	return s, err
}

var (
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

// maybeShape is a cheap test that s may hold a token shape: most text
// holds none, and the regular expressions are not run on it.
func maybeShape(s string) bool {
	return strings.Contains(s, "eyJ") || strings.Contains(s, "krn:") || strings.Contains(s, "ory_") ||
		strings.Contains(s, "earer") || strings.Contains(s, "EARER") || strings.Contains(s, "asic") || strings.Contains(s, "ASIC")
}

// shapes tags the token shapes in s.
func shapes(s string) string {
	if !maybeShape(s) {
		return s
	}
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
