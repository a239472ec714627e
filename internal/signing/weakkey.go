package signing

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"math/big"
	"slices"
)

// fieldP is 2^255 - 19, the prime of Ed25519's field.
var fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// smallOrder reports whether pub encodes a point of small order (the
// identity, or a point of order 2, 4 or 8), in any of its encodings.
// ed25519.Verify takes such a key: under the identity every signature of
// R the identity and S zero verifies, whatever the message, and under the
// others one message in 2, 4 or 8. A worker that listed one (a placeholder,
// a key of zeros) would count decisions forged by whoever may signal a run.
//
// It maps the point to Curve25519 (u = (1+y)/(1-y)) and multiplies it
// there by a scalar X25519 makes a multiple of 8: the result is zero, which
// crypto/ecdh refuses, exactly for a point of order 1, 2, 4 or 8. A key
// that is no point at all verifies nothing, and is not refused here.
func smallOrder(pub ed25519.PublicKey) bool {
	le := slices.Clone(pub)
	le[31] &= 0x7f // the sign of x: the point and its negation have one order
	slices.Reverse(le)
	y := new(big.Int).Mod(new(big.Int).SetBytes(le), fieldP)
	one := big.NewInt(1)
	if y.Cmp(one) == 0 {
		return true // the identity, which has no u
	}
	den := new(big.Int).Sub(one, y)
	den.Mod(den, fieldP).ModInverse(den, fieldP)
	u := new(big.Int).Add(one, y)
	u.Mul(u, den).Mod(u, fieldP)
	ub := u.FillBytes(make([]byte, 32))
	slices.Reverse(ub)
	point, err := ecdh.X25519().NewPublicKey(ub)
	if err != nil {
		return true // 32 bytes are always taken: not reached
	}
	scalar, err := ecdh.X25519().NewPrivateKey(slices.Repeat([]byte{0x5a}, 32))
	if err != nil {
		return true // 32 bytes are always taken: not reached
	}
	_, err = scalar.ECDH(point)
	return err != nil
}
