package db

// dialect is the database's SQL where SQLite and PostgreSQL differ. The
// store's SQL is otherwise one text for both.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// greatest is SQL for the larger of a and b: SQLite's max(a, b) is also an
// aggregate's name, PostgreSQL's MAX is only the aggregate.
func (d dialect) greatest(a, b string) string {
	if d == dialectPostgres {
		return "GREATEST(" + a + ", " + b + ")"
	}
	return "MAX(" + a + ", " + b + ")"
}

// least is greatest's counterpart for the smaller.
func (d dialect) least(a, b string) string {
	if d == dialectPostgres {
		return "LEAST(" + a + ", " + b + ")"
	}
	return "MIN(" + a + ", " + b + ")"
}
