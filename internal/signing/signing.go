// Package signing owns the keys that tie a decision to the approver
// bridge: the bridge signs every decision it forwards with an Ed25519
// private key (Signer), and the worker verifies the signature with the
// matching public keys (Verifier) before the workflow applies the
// decision. Only the bridge holds the private key, so nothing else that
// can signal a run (the starter, an operator with namespace access) can
// forge a decision, and a worker's configuration leaks no signing power.
//
// Keys have ids, so that they can be rotated: the bridge signs with one
// key; the worker accepts a new decision under any of its verify keys, and
// a decision its run counted before (the tool's check before it runs) also
// under its retired keys. The text forms, as the environment holds them, are
//
//	HITL_DECISION_SIGNING_KEY=<id>:<base64 Ed25519 seed, 32 bytes>
//	HITL_DECISION_VERIFY_KEYS=<id>:<base64 Ed25519 public key>[,<id>:<key>...]
//	HITL_DECISION_RETIRED_KEYS=<id>:<base64 Ed25519 public key>[,<id>:<key>...]
//
// and Generate makes a new pair; with no id given, the pair's id comes from
// its public key (DerivedKeyID), so that every new pair has an id of its own.
// A verify key of small order (such as 32 zero bytes), under which
// signatures made without any private key verify, is refused.
package signing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// MaxKeyIDLen bounds a key id.
const MaxKeyIDLen = 32

// validKeyID accepts 1 to MaxKeyIDLen bytes of [a-z0-9._-].
func validKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id %q: want 1 to %d characters", id, MaxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return fmt.Errorf("key id %q: character %q not allowed (a-z 0-9 . _ -)", id, r)
		}
	}
	return nil
}

// derivedForm reports whether id has DerivedKeyID's form: "k-" and 12
// lowercase hex digits. Such an id names its public key: a key under it
// that is not that key is a mistake (checkDerived).
func derivedForm(id string) bool {
	if len(id) != 14 || !strings.HasPrefix(id, "k-") {
		return false
	}
	_, err := hex.DecodeString(id[2:])
	return err == nil && strings.ToLower(id) == id
}

// checkDerived refuses a key id of DerivedKeyID's form that pub does not
// have: the other half of the pair given in place of this one (the verify
// key as the bridge's signing key, or the signing key, a secret, as a
// worker's verify key), both being 32 bytes of base64. Without it the
// swap showed only once decisions came: every one refused as a bad
// signature.
func checkDerived(id string, pub ed25519.PublicKey, what, other string) error {
	if derivedForm(id) && DerivedKeyID(pub) != id {
		return fmt.Errorf("%s %s: its id names another public key than this key's: is this the %s in its place?", what, id, other)
	}
	return nil
}

// Signer signs decisions with one private key.
type Signer struct {
	id  string
	key ed25519.PrivateKey
}

// ParseSigner reads "<id>:<base64 seed>".
func ParseSigner(s string) (*Signer, error) {
	id, b64, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return nil, errors.New("signing key: want <id>:<base64 Ed25519 seed>")
	}
	if validKeyID(id) != nil {
		// What stands before the ':' may be the seed itself (the two
		// parts swapped): it is not shown.
		return nil, fmt.Errorf("signing key: the key id before its ':' (not shown) is not 1 to %d characters of a-z 0-9 . _ -: other characters are not allowed", MaxKeyIDLen)
	}
	seed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key %s: want a base64 Ed25519 seed of %d bytes", id, ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if err := checkDerived(id, key.Public().(ed25519.PublicKey), "signing key", "verify key"); err != nil {
		return nil, err
	}
	return &Signer{id: id, key: key}, nil
}

// KeyID returns the id of the signer's key.
func (s *Signer) KeyID() string { return s.id }

// Sign sets d's KeyID and Signature. Set every other field first: the
// signature covers them (workflows.Decision.SigningPayload).
func (s *Signer) Sign(d *workflows.Decision) {
	d.KeyID = s.id
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, d.SigningPayload()))
}

// Verifier checks decisions against a set of public keys: the verify
// keys, under which a new decision counts, and the retired keys, under
// which only a decision the run counted before still checks (VerifyCounted).
type Verifier struct {
	keys    map[string]ed25519.PublicKey
	retired map[string]ed25519.PublicKey
}

// ParseVerifier reads "<id>:<base64 public key>[,<id>:<key>...]". At least
// one key is required, and ids are unique.
func ParseVerifier(s string) (*Verifier, error) {
	return ParseVerifierRetired(s, "")
}

// ParseVerifierRetired reads the verify keys as ParseVerifier does and the
// retired keys in the same form (none is allowed). A key, by its id or by
// its public key, may be in one list only: a retired key listed as a verify
// key under another id (-id names any) would approve new decisions still.
//
// A retired key is one a rotation has moved past: the bridges sign with
// another, so a new decision under it is refused (ErrRetiredKey), while a
// call the run approved under it before still runs (VerifyCounted). A key
// that leaked is dropped instead, from both lists.
func ParseVerifierRetired(verify, retired string) (*Verifier, error) {
	keys, err := parseKeys(verify, "verify")
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("verify keys: none given")
	}
	old, err := parseKeys(retired, "retired")
	if err != nil {
		return nil, err
	}
	for id, pub := range old {
		if _, both := keys[id]; both {
			return nil, fmt.Errorf("retired keys: key id %s is also a verify key: a key is one or the other", id)
		}
		for vid, vpub := range keys {
			if pub.Equal(vpub) {
				return nil, fmt.Errorf("retired key %s: its public key is also verify key %s's, under which it approves new decisions still: a key is one or the other", id, vid)
			}
		}
	}
	return &Verifier{keys: keys, retired: old}, nil
}

// CheckRetiredKeys reports what is wrong with s, a list of retired keys in
// ParseVerifierRetired's form, on its own (none is allowed), so that a
// fault in it is told beside one in the verify keys: ParseVerifierRetired
// stops at the first.
func CheckRetiredKeys(s string) error {
	_, err := parseKeys(s, "retired")
	return err
}

// parseKeys reads "<id>:<base64 public key>[,<id>:<key>...]" of the list
// named what ("verify" or "retired"); an empty list is no key.
func parseKeys(s, what string) (map[string]ed25519.PublicKey, error) {
	keys := map[string]ed25519.PublicKey{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%s keys: want <id>:<base64 Ed25519 public key>, comma-separated", what)
		}
		if err := validKeyID(id); err != nil {
			return nil, fmt.Errorf("%s keys: %w", what, err)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("%s keys: key id %s listed twice", what, id)
		}
		pub, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s key %s: want a base64 Ed25519 public key of %d bytes", what, id, ed25519.PublicKeySize)
		}
		if err := checkDerived(id, pub, what+" key", "signing key (a secret: make a new pair)"); err != nil {
			return nil, err
		}
		if smallOrder(pub) {
			return nil, fmt.Errorf("%s key %s: a point of small order, under which signatures made without any private key verify: make a new pair", what, id)
		}
		keys[id] = ed25519.PublicKey(pub)
	}
	return keys, nil
}

// KeyIDs lists the verifier's verify key ids, sorted.
func (v *Verifier) KeyIDs() []string { return sortedIDs(v.keys) }

// RetiredKeyIDs lists the verifier's retired key ids, sorted.
func (v *Verifier) RetiredKeyIDs() []string { return sortedIDs(v.retired) }

func sortedIDs(keys map[string]ed25519.PublicKey) []string {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Why a decision does not verify (Verify wraps one of them).
var (
	ErrUnsigned     = errors.New("unsigned")
	ErrUnknownKey   = errors.New("unknown key")
	ErrRetiredKey   = errors.New("retired key")
	ErrBadSignature = errors.New("bad signature")
)

// Verify reports why d, a new decision, does not verify under the verify
// keys, or nil: an error wrapping ErrUnsigned, ErrUnknownKey, ErrRetiredKey
// or ErrBadSignature. ErrRetiredKey is for a decision the retired key did
// sign (a bridge that missed the switch); one that names a retired key's
// id without its signature (anyone who may signal the run can send one) is
// a bad signature.
func (v *Verifier) Verify(d workflows.Decision) error {
	if d.Signature == "" {
		return ErrUnsigned
	}
	pub, ok := v.keys[d.KeyID]
	if !ok {
		if old, retired := v.retired[d.KeyID]; retired {
			if err := verifyWith(old, d); err != nil {
				return err
			}
			return fmt.Errorf("%w %q: it no longer approves a new decision", ErrRetiredKey, d.KeyID)
		}
		return fmt.Errorf("%w %q", ErrUnknownKey, d.KeyID)
	}
	return verifyWith(pub, d)
}

// VerifyCounted is Verify for a decision the run counted when it came
// (the tool's check of its call's approvals before it runs): a retired
// key checks it too.
func (v *Verifier) VerifyCounted(d workflows.Decision) error {
	if d.Signature == "" {
		return ErrUnsigned
	}
	pub, ok := v.keys[d.KeyID]
	if !ok {
		if pub, ok = v.retired[d.KeyID]; !ok {
			return fmt.Errorf("%w %q", ErrUnknownKey, d.KeyID)
		}
	}
	return verifyWith(pub, d)
}

// verifyWith checks d's signature under pub.
func verifyWith(pub ed25519.PublicKey, d workflows.Decision) error {
	// One text per signature: the base64 the signer writes. Go's decoder
	// also takes other texts of the same bytes (a last character's unused
	// bits set, line breaks inside), which would make a signed decision's
	// copies look like different decisions to whatever keys on the text.
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil || base64.StdEncoding.EncodeToString(sig) != d.Signature || !ed25519.Verify(pub, d.SigningPayload(), sig) {
		return ErrBadSignature
	}
	// The payload holds the publish time as nanoseconds since 1970 in an
	// int64, which a time outside the years 1678 to 2262 overflows: that
	// time and one 2^64 ns (about 584 years) away would share the
	// signature, and whoever may signal the run could move a signed
	// decision's time past the run's checks. The zero time (no timestamp)
	// and 1970's first instant share 0 the same way. Ably's timestamps are
	// never either.
	if t := d.PublishedAt; !t.IsZero() && (t.UnixNano() == 0 || !time.Unix(0, t.UnixNano()).Equal(t)) {
		return fmt.Errorf("%w: publish time %s is one the signature does not tell apart from another", ErrBadSignature, t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// DerivedKeyID is the id Generate gives a pair when none is asked for:
// "k-" and the first 12 hex digits of the SHA-256 of the public key. Two
// pairs made apart get different ids (a worker refuses an id listed twice,
// and a rotation needs the old and the new key listed side by side), and
// the id names the key it belongs to.
func DerivedKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "k-" + hex.EncodeToString(sum[:6])
}

// Generate makes a new key pair with id from random and returns its text
// forms: the signing key for the bridge and the verify key for the worker.
// An empty id is DerivedKeyID of the new public key.
func Generate(id string, random io.Reader) (signingKey, verifyKey string, err error) {
	if id != "" {
		if err := validKeyID(id); err != nil {
			return "", "", err
		}
		if derivedForm(id) {
			return "", "", fmt.Errorf("key id %q: ids of the form k- and 12 hex digits are made from the key; give none, or another", id)
		}
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(random, seed); err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if id == "" {
		id = DerivedKeyID(pub)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(seed), id + ":" + base64.StdEncoding.EncodeToString(pub), nil
}

// NewPair makes a new key pair with id from random and parses both
// halves, for a process that signs and verifies its own decisions (tests,
// the history recorder).
func NewPair(id string, random io.Reader) (*Signer, *Verifier, error) {
	sk, vk, err := Generate(id, random)
	if err != nil {
		return nil, nil, err
	}
	s, err := ParseSigner(sk)
	if err != nil {
		return nil, nil, err
	}
	v, err := ParseVerifier(vk)
	if err != nil {
		return nil, nil, err
	}
	return s, v, nil
}
