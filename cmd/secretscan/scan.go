package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"sort"

	"github.com/go-jose/go-jose/v4"
)

// Place is where a file sits in the data dir; what may appear there depends
// on it (Kind.Browser).
type Place int

const (
	PlaceDB Place = iota
	PlaceLog
	PlacePage
)

// Hit is a secret found in a file. It names the secret by kind and
// secret.Tag, never by value.
type Hit struct {
	File   string
	Secret Secret
	Form   string // how it was written: "raw", "URL-escaped", "base64", "JWT signed by the sandbox"
	Where  string // for the database: table.column; else ""
}

// form is one way a secret's value can be written.
type form struct {
	secret *Secret
	name   string
	b      []byte
}

// forms returns the ways value may be written where the scan looks: as
// itself, URL-escaped (query and path), and for values long enough to be
// worth encoding, in base64 (standard and URL alphabets) at each of the
// three alignments, so the value is found inside a larger encoded blob too
// (a password inside HTTP Basic's base64 of "user:password").
func forms(s *Secret) []form {
	v := s.Value
	out := []form{{s, "raw", []byte(v)}}
	seen := map[string]bool{v: true}
	addForm := func(name, f string) {
		if len(f) >= 8 && !seen[f] {
			seen[f] = true
			out = append(out, form{s, name, []byte(f)})
		}
	}
	addForm("URL-escaped", url.QueryEscape(v))
	addForm("URL-escaped", url.PathEscape(v))
	if len(v) < 12 {
		return out
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for shift := range 3 {
			// shift bytes before the value: the characters from
			// ceil(shift*4/3) to floor((shift+len)*4/3) hold the value's
			// bits alone; those around them depend on its neighbours.
			e := enc.EncodeToString(append(make([]byte, shift), v...))
			start := (shift*4 + 2) / 3
			end := (shift + len(v)) * 4 / 3
			if end > start {
				addForm("base64", e[start:end])
			}
		}
	}
	return out
}

// prefixLen is how many bytes of a form the matcher indexes.
const prefixLen = 8

// Matcher finds every form of every secret in a file in one pass.
type Matcher struct {
	byPrefix map[string][]form
	short    []form // forms shorter than prefixLen
	signers  []Signer
	count    int
}

// NewMatcher prepares the search for secrets.
func NewMatcher(s *Secrets) *Matcher {
	m := &Matcher{byPrefix: map[string][]form{}, signers: s.Signers, count: len(s.Values)}
	for i := range s.Values {
		for _, f := range forms(&s.Values[i]) {
			if len(f.b) < prefixLen {
				m.short = append(m.short, f)
				continue
			}
			p := string(f.b[:prefixLen])
			m.byPrefix[p] = append(m.byPrefix[p], f)
		}
	}
	return m
}

// jwtShape is a compact JWS: three base64url parts.
var jwtShape = regexp.MustCompile(`[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}`)

// Find returns what data holds, each secret once by its first form found.
func (m *Matcher) Find(data []byte) []Hit {
	var hits []Hit
	found := map[*Secret]bool{}
	hit := func(f form) {
		if !found[f.secret] {
			found[f.secret] = true
			hits = append(hits, Hit{Secret: *f.secret, Form: f.name})
		}
	}
	for i := 0; i+prefixLen <= len(data); i++ {
		for _, f := range m.byPrefix[string(data[i:i+prefixLen])] {
			if bytes.HasPrefix(data[i:], f.b) {
				hit(f)
			}
		}
	}
	for _, f := range m.short {
		if bytes.Contains(data, f.b) {
			hit(f)
		}
	}
	if len(m.signers) > 0 {
		signed := map[string]bool{}
		for _, tok := range jwtShape.FindAll(data, -1) {
			if signed[string(tok)] {
				continue
			}
			signed[string(tok)] = true
			if k, ok := m.signedBy(string(tok)); ok {
				hits = append(hits, Hit{Secret: Secret{Kind: k, Value: string(tok)}, Form: "JWT signed by the sandbox"})
			}
		}
	}
	return hits
}

// signedBy reports which kind of token tok is when one of the sandbox's
// keys signed it.
func (m *Matcher) signedBy(tok string) (Kind, bool) {
	i := bytes.LastIndexByte([]byte(tok), '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return Kind{}, false
	}
	for _, s := range m.signers {
		switch {
		case s.HMAC != nil:
			mac := hmac.New(sha256.New, s.HMAC)
			mac.Write([]byte(tok[:i]))
			if hmac.Equal(sig, mac.Sum(nil)) {
				return s.Kind, true
			}
		case s.JWK != nil:
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
			if err == nil {
				if _, err := jws.Verify(s.JWK); err == nil {
					return s.Kind, true
				}
			}
		}
	}
	return Kind{}, false
}

// allowed reports whether a hit of kind k may be where it is: the kinds
// the protocol gives the browser may be on a page; the database's bytes are
// scanned for every other kind, and its rows for these (allowedInRows).
// Nothing may be in the log.
func allowed(k Kind, p Place) bool {
	return k.Browser && (p == PlacePage || p == PlaceDB)
}

// browserColumns are the shop's columns that keep a browser kind by
// design, to render its page again: the Klarna widget's client_token and the
// Vipps landing page the customer may still be sent to (db/migrations).
var browserColumns = map[string]Kind{
	"klarna_payments.client_token": kindKlarnaClient,
	"vipps_payments.redirect_url":  kindVippsLanding,
}

// scanRows looks for the browser kinds in every value of every table
// (tables lists them) of the shop's database but their documented columns:
// a byte scan of the file cannot tell a column from another, and these
// kinds are rightly in one. With every, it reports the other kinds too (on
// PostgreSQL, where no file was scanned).
func scanRows(ctx context.Context, db *sql.DB, tables string, m *Matcher, every bool) ([]Hit, error) {
	rows, err := db.QueryContext(ctx, tables)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(names)
	var hits []Hit
	for _, t := range names {
		h, err := scanTable(ctx, db, t, m, every)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	return hits, nil
}

func scanTable(ctx context.Context, db *sql.DB, table string, m *Matcher, every bool) ([]Hit, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT * FROM %q`, table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var hits []Hit
	seen := map[string]bool{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			where := table + "." + cols[i]
			for _, h := range m.Find(v) {
				if (!h.Secret.Kind.Browser && !every) || browserColumns[where] == h.Secret.Kind || seen[where+h.Secret.Value] {
					continue
				}
				seen[where+h.Secret.Value] = true
				h.Where = where
				hits = append(hits, h)
			}
		}
	}
	return hits, rows.Err()
}
