package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

func decision() workflows.Decision {
	return workflows.Decision{ToolCallID: "call_1", Decision: workflows.DecisionApproved, ApproverClientID: "pat",
		ApproverRole: "publisher", Reason: "ok", AblyMessageID: "m1", PublishedAt: time.UnixMilli(1_700_000_000_000),
		WorkflowID: "hitl-1", ArgumentsDigest: "sha256:ab"}
}

// shift moves t by sign × 2^64 ns.
func shift(t time.Time, sign int) time.Time {
	half := time.Duration(sign) * (1 << 62) // 2^62 ns: four of them are 2^64
	for range 4 {
		t = t.Add(half)
	}
	return t
}

const b64alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func TestSignAndVerify(t *testing.T) {
	sk, vk, err := Generate("k1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigner(sk)
	if err != nil {
		t.Fatal(err)
	}
	sk2, vk2, _ := Generate("k2", rand.Reader)
	v, err := ParseVerifier(vk2 + ", " + vk)
	if err != nil {
		t.Fatal(err)
	}
	d := decision()
	s.Sign(&d)
	if d.KeyID != "k1" || d.Signature == "" {
		t.Fatalf("signed decision = %+v", d)
	}
	if err := v.Verify(d); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	// Every signed field is covered.
	mutations := map[string]func(*workflows.Decision){
		"tool call":    func(d *workflows.Decision) { d.ToolCallID = "call_2" },
		"decision":     func(d *workflows.Decision) { d.Decision = workflows.DecisionRejected },
		"approver":     func(d *workflows.Decision) { d.ApproverClientID = "mallory" },
		"role":         func(d *workflows.Decision) { d.ApproverRole = "admin" },
		"reason":       func(d *workflows.Decision) { d.Reason = "" },
		"message id":   func(d *workflows.Decision) { d.AblyMessageID = "m2" },
		"published at": func(d *workflows.Decision) { d.PublishedAt = d.PublishedAt.Add(time.Millisecond) },
		"workflow":     func(d *workflows.Decision) { d.WorkflowID = "hitl-2" },
		"digest":       func(d *workflows.Decision) { d.ArgumentsDigest = "" },
		"arguments":    func(d *workflows.Decision) { d.Arguments = `{"title":"x"}` },
		"key id":       func(d *workflows.Decision) { d.KeyID = "k2" },
		// The payload holds the publish time in nanoseconds since 1970,
		// an int64: a time 2^64 ns (about 584 years) away wraps to the
		// same number. Whoever may signal the run could move a signed
		// decision's time past the run's checks (its start, its expiry,
		// an approver's later decision) with the signature still good.
		"published at, 2^64 ns later":   func(d *workflows.Decision) { d.PublishedAt = shift(d.PublishedAt, 1) },
		"published at, 2^64 ns earlier": func(d *workflows.Decision) { d.PublishedAt = shift(d.PublishedAt, -1) },
	}
	for name, mutate := range mutations {
		m := d
		mutate(&m)
		if err := v.Verify(m); err == nil {
			t.Errorf("%s changed after signing: still verifies", name)
		}
	}
	// A decision signed without a publish time does not verify with 1970's
	// first instant, which the payload holds as the same 0.
	untimed := decision()
	untimed.PublishedAt = time.Time{}
	s.Sign(&untimed)
	if err := v.Verify(untimed); err != nil {
		t.Fatalf("Verify without a publish time = %v", err)
	}
	untimed.PublishedAt = time.Unix(0, 0)
	if err := v.Verify(untimed); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signed without a publish time, verified with 1970-01-01: %v, want a bad signature", err)
	}
	// Another key's signature does not verify.
	s2, _ := ParseSigner(sk2)
	other := decision()
	s2.Sign(&other)
	other.KeyID = "k1"
	if err := v.Verify(other); err == nil || err.Error() != "bad signature" {
		t.Errorf("k2's signature under k1 = %v, want bad signature", err)
	}
	// The signature's text is the signature's base64 and nothing else.
	for _, junk := range []string{"!", "AAAA", "="} {
		m := d
		m.Signature += junk
		if err := v.Verify(m); !errors.Is(err, ErrBadSignature) {
			t.Errorf("signature with %q after it = %v, want a bad signature", junk, err)
		}
	}
	// Nor another text of the same bytes, which Go's decoder takes: the
	// last character's unused bits set, or a line break inside.
	last := strings.TrimRight(d.Signature, "=")
	i := strings.IndexByte(b64alphabet, last[len(last)-1])
	for name, sig := range map[string]string{
		"unused bits set": last[:len(last)-1] + string(b64alphabet[i|0x0f]) + d.Signature[len(last):],
		"a line break":    d.Signature[:40] + "\r\n" + d.Signature[40:],
	} {
		if sig == d.Signature {
			t.Fatalf("%s: the same text", name)
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err != nil || base64.StdEncoding.EncodeToString(b) != d.Signature {
			t.Fatalf("%s: %q does not decode to the signature's bytes (%v)", name, sig, err)
		}
		m := d
		m.Signature = sig
		if err := v.Verify(m); !errors.Is(err, ErrBadSignature) {
			t.Errorf("the signature written with %s = %v, want a bad signature", name, err)
		}
	}
	unsigned := decision()
	if err := v.Verify(unsigned); err == nil || err.Error() != "unsigned" {
		t.Errorf("unsigned = %v", err)
	}
	unknown := decision()
	s.Sign(&unknown)
	unknown.KeyID = "k9"
	if err := v.Verify(unknown); err == nil || !strings.Contains(err.Error(), `unknown key "k9"`) {
		t.Errorf("unknown key = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	seed := strings.Repeat("A", 43) + "="                 // 32 zero bytes
	pub := "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=" // that seed's public key
	tests := []struct {
		name    string
		signer  bool
		in      string
		wantErr string
	}{
		{"signer without id", true, seed, "want <id>:"},
		{"signer bad id", true, "K1:" + seed, "not allowed"},
		{"signer short seed", true, "k1:AAAA", "seed of 32 bytes"},
		{"signer not base64", true, "k1:!!", "seed of 32 bytes"},
		{"verifier empty", false, " , ", "none given"},
		{"verifier duplicate", false, "k1:" + pub + ",k1:" + pub, "listed twice"},
		{"verifier short", false, "k1:AAAA", "public key of 32 bytes"},
		{"verifier long id", false, strings.Repeat("k", 33) + ":" + pub, "1 to 32"},
		{"signer empty id", true, ":" + seed, "1 to 32"},
		// The seed before the id: the error does not show it.
		{"signer swapped", true, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=:k1", "not shown"},
		{"verifier empty id", false, ":" + pub, "1 to 32"},
		{"verifier without id", false, pub, "want <id>:"},
		// A base64 decoder stops at the first bad byte with what it read:
		// the seed and key are all 32 bytes here, the rest is refused.
		{"signer trailing data", true, "k1:" + seed + "AAAA", "seed of 32 bytes"},
		{"signer trailing junk", true, "k1:" + seed + "!", "seed of 32 bytes"},
		{"verifier trailing junk", false, "k1:" + pub + "!", "public key of 32 bytes"},
	}
	for _, tt := range tests {
		var err error
		if tt.signer {
			_, err = ParseSigner(tt.in)
		} else {
			_, err = ParseVerifier(tt.in)
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
		if secret, _, _ := strings.Cut(tt.in, ":"); tt.signer && len(secret) > 40 && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: err = %v shows the seed", tt.name, err)
		}
	}
}

// TestSwappedHalves: the two halves of a pair are both 32 bytes of
// base64, so the verify key given as the bridge's signing key (or the
// signing key as a worker's verify key) parsed, and every decision was
// then refused as a bad signature. A derived id names its public key, so
// the swap is refused at start; an id of that form given to Generate is
// refused, as it would name another key.
func TestSwappedHalves(t *testing.T) {
	sk, vk, err := Generate("", bytes.NewReader(bytes.Repeat([]byte{5}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSigner(sk); err != nil {
		t.Fatalf("the signing key: %v", err)
	}
	if _, err := ParseVerifier(vk); err != nil {
		t.Fatalf("the verify key: %v", err)
	}
	if _, err := ParseSigner(vk); err == nil || !strings.Contains(err.Error(), "is this the verify key") {
		t.Errorf("the verify key as the signing key: err = %v", err)
	}
	_, other, _ := Generate("", bytes.NewReader(bytes.Repeat([]byte{6}, 32)))
	if _, err := ParseVerifier(other + "," + sk); err == nil || !strings.Contains(err.Error(), "is this the signing key") || strings.Contains(err.Error(), sk[strings.Index(sk, ":")+1:]) {
		t.Errorf("the signing key among the verify keys: err = %v (want it named, its secret not shown)", err)
	}
	// An id of another form says nothing of its key.
	if _, err := ParseSigner("k1" + vk[strings.Index(vk, ":"):]); err != nil {
		t.Errorf("a public key's bytes under a chosen id: %v", err)
	}
	if _, _, err := Generate("k-0123456789ab", bytes.NewReader(bytes.Repeat([]byte{7}, 32))); err == nil {
		t.Error("Generate with an id of the derived form: no error")
	}
	for _, id := range []string{"k-0123456789a", "k-0123456789abc", "k-0123456789ag", "x-0123456789ab"} {
		if derivedForm(id) {
			t.Errorf("derivedForm(%q) = true", id)
		}
	}
}

// TestKeyIDs: ids of 1 to 32 characters of a-z 0-9 . _ -, in every
// form that takes one; the text around a signing key (a value read from a
// file ends in a newline) is not part of it.
func TestKeyIDs(t *testing.T) {
	seed := bytes.Repeat([]byte{8}, 32)
	for _, id := range []string{"z", "a.b_c-d", "0", strings.Repeat("z", MaxKeyIDLen)} {
		sk, vk, err := Generate(id, bytes.NewReader(seed))
		if err != nil {
			t.Errorf("Generate(%q): %v", id, err)
			continue
		}
		s, err := ParseSigner(" " + sk + "\n")
		if err != nil || s.KeyID() != id {
			t.Errorf("ParseSigner of %q's key with spaces around: %v, %v", id, s, err)
		}
		v, err := ParseVerifier(" " + vk + " ,\n")
		if err != nil || !slices.Equal(v.KeyIDs(), []string{id}) {
			t.Errorf("ParseVerifier of %q's key: %v, %v", id, v, err)
		}
	}
	for _, id := range []string{"K1", "a:b", "a b", "a,b", "é", strings.Repeat("z", MaxKeyIDLen+1)} {
		if _, _, err := Generate(id, bytes.NewReader(seed)); err == nil {
			t.Errorf("Generate(%q): no error", id)
		}
	}
	// A derived id is "k-" and exactly 12 hex digits.
	for id, want := range map[string]bool{"k-0123456789ab": true, "k-0123456789abcd": false, "k-01234567": false} {
		if got := derivedForm(id); got != want {
			t.Errorf("derivedForm(%q) = %v, want %v", id, got, want)
		}
	}
	// KeyIDs are sorted, whatever the order given.
	var vks []string
	for _, id := range []string{"c", "a", "b"} {
		_, vk, err := Generate(id, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		vks = append(vks, vk)
	}
	v, err := ParseVerifier(strings.Join(vks, ","))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.KeyIDs(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("KeyIDs = %v, want [a b c]", got)
	}
}

func TestGenerateIsDeterministicForItsRandom(t *testing.T) {
	a1, b1, err := Generate("k1", bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	a2, b2, _ := Generate("k1", bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if a1 != a2 || b1 != b2 {
		t.Fatal("the same random gave other keys")
	}
	if _, _, err := Generate("k1", bytes.NewReader(nil)); err == nil {
		t.Fatal("Generate with no randomness: no error")
	}
}

func TestNewPairVerifiesItsOwnSignatures(t *testing.T) {
	s, v, err := NewPair("k1", bytes.NewReader(bytes.Repeat([]byte{2}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	d := decision()
	s.Sign(&d)
	if err := v.Verify(d); err != nil {
		t.Fatalf("Verify of NewPair's own signature: %v", err)
	}
	if _, _, err := NewPair("bad id!", bytes.NewReader(bytes.Repeat([]byte{2}, 32))); err == nil {
		t.Fatal("NewPair with a bad key id: no error")
	}
}

func TestGenerateDerivesTheIDFromTheKey(t *testing.T) {
	seed := bytes.Repeat([]byte{3}, 32)
	sk, vk, err := Generate("", bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	id := DerivedKeyID(pub)
	if err := validKeyID(id); err != nil {
		t.Fatalf("derived id: %v", err)
	}
	if !strings.HasPrefix(sk, id+":") || !strings.HasPrefix(vk, id+":") {
		t.Fatalf("Generate(\"\") = %q, %q; want both with id %q", sk, vk, id)
	}
	_, other, _ := Generate("", bytes.NewReader(bytes.Repeat([]byte{4}, 32)))
	if _, err := ParseVerifier(vk + "," + other); err != nil {
		t.Fatalf("two generated pairs listed together: %v", err)
	}
}

// TestRetiredKeys: a retired key no longer approves a new decision
// (Verify) but still checks one its run counted before (VerifyCounted);
// an unknown key checks neither, and a key is a verify key or a retired
// one, not both.
func TestRetiredKeys(t *testing.T) {
	oldSign, oldVerify := pair(t, "old")
	newSign, newVerify := pair(t, "new")
	_, otherVerify := pair(t, "other")
	v, err := ParseVerifierRetired(newVerify, " "+oldVerify+" ,")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.KeyIDs(), []string{"new"}) || !slices.Equal(v.RetiredKeyIDs(), []string{"old"}) {
		t.Fatalf("KeyIDs %v, RetiredKeyIDs %v", v.KeyIDs(), v.RetiredKeyIDs())
	}
	otherSign, _ := pair(t, "other")
	tests := []struct {
		name             string
		signer           *Signer
		mutate           func(*workflows.Decision)
		verify, recorded error // nil: valid
	}{
		{"verify key", newSign, nil, nil, nil},
		{"retired key", oldSign, nil, ErrRetiredKey, nil},
		// Only a decision the retired key signed is told apart as signed
		// with it (the retired_key metric: a bridge that missed the switch).
		{"retired key, tampered", oldSign, func(d *workflows.Decision) { d.ApproverRole = "admin" }, ErrBadSignature, ErrBadSignature},
		{"retired key's id, another key's signature", newSign, func(d *workflows.Decision) { d.KeyID = "old" }, ErrBadSignature, ErrBadSignature},
		{"verify key, tampered", newSign, func(d *workflows.Decision) { d.ApproverRole = "admin" }, ErrBadSignature, ErrBadSignature},
		{"unknown key", otherSign, nil, ErrUnknownKey, ErrUnknownKey},
		{"unsigned", nil, nil, ErrUnsigned, ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decision()
			if tt.signer != nil {
				tt.signer.Sign(&d)
			}
			if tt.mutate != nil {
				tt.mutate(&d)
			}
			for _, c := range []struct {
				name string
				fn   func(workflows.Decision) error
				want error
			}{{"Verify", v.Verify, tt.verify}, {"VerifyCounted", v.VerifyCounted, tt.recorded}} {
				err := c.fn(d)
				if (c.want == nil) != (err == nil) || c.want != nil && !errors.Is(err, c.want) {
					t.Errorf("%s = %v, want %v", c.name, err, c.want)
				}
			}
		})
	}

	// The parse's refusals.
	_, derived, err := Generate("", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	derivedID, _, _ := strings.Cut(derived, ":")
	for _, tt := range []struct {
		name, verify, retired, wantErr string
	}{
		{"both lists", newVerify, newVerify, "also a verify key"},
		{"both lists, another id", newVerify, "alias:" + strings.TrimPrefix(newVerify, "new:"), "retired key alias: its public key is also verify key new's"},
		{"retired only", "", oldVerify, "none given"},
		{"retired twice", newVerify, oldVerify + "," + oldVerify, "retired keys: key id old listed twice"},
		{"retired short", newVerify, "old:AAAA", "retired key old: want a base64"},
		{"retired without id", newVerify, strings.TrimPrefix(oldVerify, "old:"), "retired keys: want <id>:"},
		// VerifyCounted accepts a retired key: one under which signatures
		// made without a private key verify is refused there too.
		{"retired of small order", newVerify, "old:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "retired key old: a point of small order"},
		{"retired under another key's id", newVerify, derivedID + ":" + strings.TrimPrefix(oldVerify, "old:"), "retired key " + derivedID + ": its id names another public key"},
	} {
		if _, err := ParseVerifierRetired(tt.verify, tt.retired); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if v, err := ParseVerifierRetired(newVerify+","+otherVerify, ""); err != nil || len(v.RetiredKeyIDs()) != 0 {
		t.Errorf("no retired keys: %v, %v", v, err)
	}
}

// pair makes a key pair with id, its signer parsed.
func pair(t *testing.T, id string) (*Signer, string) {
	t.Helper()
	sk, vk, err := Generate(id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigner(sk)
	if err != nil {
		t.Fatal(err)
	}
	return s, vk
}
