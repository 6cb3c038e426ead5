package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type thing struct {
	Name  string
	Count int
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func load(t *testing.T, s *Store, part string) map[string]thing {
	t.Helper()
	l, err := s.Load(context.Background(), part)
	if err != nil {
		t.Fatal(err)
	}
	m := Decode[thing](l, "thing", &err)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func save(t *testing.T, s *Store, parts map[string][]Object) {
	t.Helper()
	if err := s.Save(context.Background(), parts); err != nil {
		t.Fatal(err)
	}
}

func TestSavedObjectsComeBackAfterReopening(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	save(t, s, map[string][]Object{
		"a": All("thing", map[string]thing{"1": {"one", 1}, "2": {"two", 2}}),
		"b": All("thing", map[string]thing{"1": {"b-one", 1}}),
	})
	// A change, a deletion and an untouched part.
	save(t, s, map[string][]Object{"a": All("thing", map[string]thing{"1": {"one", 10}})})
	s.Close()

	s = open(t, dir)
	a, b := load(t, s, "a"), load(t, s, "b")
	if len(a) != 1 || a["1"] != (thing{"one", 10}) {
		t.Errorf("part a = %v, want only 1 with its new count", a)
	}
	if len(b) != 1 || b["1"] != (thing{"b-one", 1}) {
		t.Errorf("part b = %v, want it untouched by a's save", b)
	}
	// Loaded rows are known: saving a part without one deletes it.
	save(t, s, map[string][]Object{"b": nil})
	if b := load(t, s, "b"); len(b) != 0 {
		t.Errorf("part b after saving it empty = %v", b)
	}
}

func TestForgetDeletesEveryPart(t *testing.T) {
	s := open(t, t.TempDir())
	save(t, s, map[string][]Object{"a": {{"thing", "1", thing{"x", 1}}}, "b": {{"thing", "1", thing{"y", 1}}}})
	if err := s.Forget(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a, b := load(t, s, "a"), load(t, s, "b"); len(a)+len(b) != 0 {
		t.Fatalf("after Forget: %v %v", a, b)
	}
	// Forgotten rows are not known any more: the same object is written again.
	save(t, s, map[string][]Object{"a": {{"thing", "1", thing{"x", 1}}}})
	if a := load(t, s, "a"); a["1"] != (thing{"x", 1}) {
		t.Fatalf("saved again after Forget: %v", a)
	}
}

// The file holds tokens and signing keys: only its owner may read it, the
// WAL and shared-memory files included.
func TestFilesAreOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	save(t, s, map[string][]Object{"a": {{"thing", "1", thing{"x", 1}}}})
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

// A bad object's error names it, and stops the decoding that follows.
func TestDecodeNamesTheBadObjectAndStops(t *testing.T) {
	l := Loaded{"thing": {"7": []byte(`{"Count": "many"}`)}, "other": {"1": []byte(`{"Count": 1}`)}}
	var err error
	Decode[thing](l, "thing", &err)
	if err == nil || !strings.Contains(err.Error(), `thing "7"`) {
		t.Fatalf("err = %v, want one naming thing 7", err)
	}
	var v thing
	if One(l, "other", "1", &v, &err) || v.Count != 0 {
		t.Errorf("One decoded %+v after an error", v)
	}
}
