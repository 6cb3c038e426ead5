package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretNeverPrintsItself(t *testing.T) {
	s := New("hunter2-very-secret")
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "token", s, "group", struct{ T Secret }{s})
	js, _ := json.Marshal(map[string]Secret{"t": s})
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%+v": fmt.Sprintf("%+v", struct{ T Secret }{s}),
		"%#v": fmt.Sprintf("%#v", s), "slog": logs.String(), "json": string(js),
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the secret: %s", name, out)
		}
	}
	if s.Reveal() != "hunter2-very-secret" {
		t.Fatal("Reveal lost the value")
	}
}

func TestMask(t *testing.T) {
	if got := Mask("krn:partner:eu1:playground:identity:customer-token:AbCdEfGh1234567"); got != "••••4567" {
		t.Fatalf("Mask = %q", got)
	}
	if got := Mask("short"); strings.Contains(got, "short") {
		t.Fatalf("Mask of a short value shows it: %q", got)
	}
}

func testBox(t *testing.T, fill byte) *Box {
	b, err := NewBox(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBoxRoundTripAndRefusals(t *testing.T) {
	b := testBox(t, 1)
	sealed, err := b.Seal("refresh-token-value", "user:1:klarna_refresh")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "refresh-token-value") || !strings.HasPrefix(sealed, "v1:") {
		t.Fatalf("sealed value = %q", sealed)
	}
	again, _ := b.Seal("refresh-token-value", "user:1:klarna_refresh")
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	got, err := b.Open(sealed, "user:1:klarna_refresh")
	if err != nil || got.Reveal() != "refresh-token-value" {
		t.Fatalf("Open = %q, %v", got.Reveal(), err)
	}
	if _, err := b.Open(sealed, "user:2:klarna_refresh"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another row's aad opened the value: %v", err)
	}
	if _, err := testBox(t, 2).Open(sealed, "user:1:klarna_refresh"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("a wrong key opened the value: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := b.Open(tampered, "user:1:klarna_refresh"); err == nil {
		t.Fatal("a tampered value opened")
	}
	if _, err := NewBox([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestParseKey(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	if k, err := ParseKey(hexKey); err != nil || len(k) != KeySize {
		t.Fatalf("hex key: %v", err)
	}
	if k, err := ParseKey("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="); err != nil || len(k) != KeySize {
		t.Fatalf("base64 key: %v", err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("ab", 16), "not base64 at all!!"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestKeyFileIsCreatedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKeyFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", info.Mode().Perm())
	}
	k2, err := LoadOrCreateKeyFile(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the key changed between starts")
	}
	if Fingerprint(k1) == Fingerprint(bytes.Repeat([]byte{9}, KeySize)) || Fingerprint(k1) != Fingerprint(k2) {
		t.Fatal("fingerprints do not tell keys apart")
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(dir); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
}

func TestTagTellsTokensApartWithoutShowingThem(t *testing.T) {
	a, b := "eyJhbGciOiJSUzI1NiJ9.payload-one.sig-AAAA", "eyJhbGciOiJSUzI1NiJ9.payload-two.sig-AAAA"
	ta, tb := Tag(a), Tag(b)
	if ta == tb {
		t.Errorf("two tokens with the same tail share a tag %q", ta)
	}
	if !strings.HasPrefix(ta, "…AAAA #") || len(ta) != len("…AAAA #")+8 || strings.Contains(ta, "payload") {
		t.Errorf("tag %q", ta)
	}
	if got := Tag("short-secret"); strings.Contains(got, "cret") || !strings.HasPrefix(got, "#") {
		t.Errorf("a short secret's tag shows its end: %q", got)
	}
	if New(a).Tag() != ta || Tag("") != "" {
		t.Error("Secret.Tag differs, or an empty value has a tag")
	}
}
