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
