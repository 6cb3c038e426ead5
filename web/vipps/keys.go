package vipps

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
)

// MaxKeyLength is the Idempotency-Key's documented maxLength.
const MaxKeyLength = 50

// ReferencePattern is the reference's pattern in the ePayment OpenAPI v1.4.1
// (8-50 characters). Vipps's current error examples allow 64
// (https://developer.vippsmobilepay.com/docs/APIs/epayment-api/errors); the
// shop keeps to 50, which both accept.
var ReferencePattern = regexp.MustCompile(`^[a-zA-Z0-9-]{8,50}$`)

// Reference is the ePayment reference for an order: "refshop-" and the
// order's public id, so it is unique per order (the public id is) and
// readable in Vipps's portal. Characters outside the pattern are dropped.
func Reference(orderPublicID string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, orderPublicID)
	ref := "refshop-" + clean
	if !ReferencePattern.MatchString(ref) {
		return "", errors.New("vipps: order id does not make a valid reference")
	}
	return ref, nil
}

// OperationKey derives the Idempotency-Key of one operation ("create",
// "capture", "cancel") of one payment attempt from the attempt's own stored
// key, so every retry of that operation, in this process or after a restart,
// sends the same key. Keys that would pass 50 characters are hashed.
func OperationKey(attemptKey, operation string) string {
	k := attemptKey + "-" + operation
	if len(k) <= MaxKeyLength {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "k-" + hex.EncodeToString(sum[:])[:40] + "-" + operation[:min(len(operation), 7)]
}
