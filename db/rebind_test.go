package db

import "testing"

// The store writes SQLite's placeholders; PostgreSQL gets its own, and a ?
// that is text, a name or a comment stays what it is.
func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:                               `SELECT 1`,
		`UPDATE t SET a = ?, b = ? WHERE id = ?`: `UPDATE t SET a = $1, b = $2 WHERE id = $3`,
		`SET a = CASE WHEN ?1 = '' THEN a ELSE ?1 END, b = ?2`: `SET a = CASE WHEN $1 = '' THEN a ELSE $1 END, b = $2`,
		`SELECT ?3, ?`: `SELECT $3, $4`,
		`SELECT '?', 'it''s ?', "a?b", ? -- what?` + "\n" + `, ? /* or ? */, ?`: `SELECT '?', 'it''s ?', "a?b", $1 -- what?` + "\n" + `, $2 /* or ? */, $3`,
		`SELECT 'unterminated ?`: `SELECT 'unterminated ?`,
		`SELECT ? -- trailing ?`: `SELECT $1 -- trailing ?`,
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}
