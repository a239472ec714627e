package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// TestSmallOrderVerifyKeysRefused: ed25519.Verify takes a public key of
// small order, under which signatures made without any private key verify
// (the identity's for every message). A worker given one (a placeholder of
// zeros) counted the decisions anyone who may signal a run forged.
func TestSmallOrderVerifyKeysRefused(t *testing.T) {
	ff := func(first, last byte) string { // first, 30 bytes of 0xff, last
		return hex.EncodeToString([]byte{first}) + strings.Repeat("ff", 30) + hex.EncodeToString([]byte{last})
	}
	zeros := func(first, last byte) string {
		return hex.EncodeToString([]byte{first}) + strings.Repeat("00", 30) + hex.EncodeToString([]byte{last})
	}
	keys := map[string]string{
		"the identity":                 zeros(0x01, 0x00),
		"the identity, x negative":     zeros(0x01, 0x80),
		"the identity, y = p + 1":      ff(0xee, 0x7f),
		"order 2, y = p - 1":           ff(0xec, 0x7f),
		"order 2, x negative":          ff(0xec, 0xff),
		"order 4, zeros":               zeros(0x00, 0x00),
		"order 4, x negative":          zeros(0x00, 0x80),
		"order 4, y = p":               ff(0xed, 0x7f),
		"order 8":                      "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"order 8, x negative":          "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
		"order 8, the other":           "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"order 8, the other, negative": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	}
	forged := make([]byte, ed25519.SignatureSize)
	forged[0] = 1 // R the identity, S zero
	for name, h := range keys {
		pub, err := hex.DecodeString(h)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("%s: bad test key %q", name, h)
		}
		// The key is as weak as said: some message takes the forgery.
		took := false
		for i := range 64 {
			took = took || ed25519.Verify(pub, fmt.Appendf(nil, "decision %d", i), forged)
		}
		if !took {
			t.Errorf("%s: no forged signature verified: not a key of small order?", name)
		}
		if _, err := ParseVerifier("k1:" + base64.StdEncoding.EncodeToString(pub)); err == nil || !strings.Contains(err.Error(), "small order") {
			t.Errorf("%s: ParseVerifier err = %v, want it refused as of small order", name, err)
		}
	}
	// Real keys pass.
	for range 32 {
		if _, _, err := NewPair("k1", rand.Reader); err != nil {
			t.Fatalf("a generated pair: %v", err)
		}
	}
	if _, _, err := NewPair("k1", bytes.NewReader(make([]byte, 32))); err != nil {
		t.Fatalf("the pair of a zero seed: %v", err)
	}
}
