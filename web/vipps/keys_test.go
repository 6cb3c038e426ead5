package vipps

import (
	"strings"
	"testing"
)

func TestReferenceIsValidAndUniquePerOrder(t *testing.T) {
	a, err := Reference("k7q2m4n6p8r0s2t4v6x8z0b2d4")
	if err != nil || !ReferencePattern.MatchString(a) || a != "refshop-k7q2m4n6p8r0s2t4v6x8z0b2d4" {
		t.Fatalf("%q %v", a, err)
	}
	b, _ := Reference("k7q2m4n6p8r0s2t4v6x8z0b2d5")
	if a == b {
		t.Error("two orders share a reference")
	}
	if _, err := Reference(strings.Repeat("x", 60)); err == nil {
		t.Error("a reference over 50 characters was made")
	}
}

func TestOperationKeyIsStableAndShort(t *testing.T) {
	k := OperationKey("order-k7q2m4n6p8r0s2t4v6x8z0b2d4", "capture")
	if k != "order-k7q2m4n6p8r0s2t4v6x8z0b2d4-capture" || OperationKey("order-k7q2m4n6p8r0s2t4v6x8z0b2d4", "capture") != k {
		t.Errorf("key %q", k)
	}
	long := OperationKey(strings.Repeat("a", 60), "capture")
	if len(long) > MaxKeyLength || long != OperationKey(strings.Repeat("a", 60), "capture") || long == OperationKey(strings.Repeat("a", 60), "cancel") {
		t.Errorf("hashed key %q (%d)", long, len(long))
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"4791234567": "4791234567", "+47 912 34 567": "4791234567", "0047 91234567": "4791234567",
		"+358 40 123 4567": "358401234567", "+47 (912) 34-567": "4791234567",
	} {
		if got, err := NormalizePhone(in); got != want || err != nil {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		"": ErrPhoneMissing, "912 34 567": ErrPhoneLength, "47912345a7": ErrPhoneCharacters,
		"+47+912345678": ErrPhoneCharacters, "1234567890123456": ErrPhoneLength,
	} {
		if got, err := NormalizePhone(in); err != want {
			t.Errorf("%q: %q, %v; want %v", in, got, err, want)
		}
	}
}
