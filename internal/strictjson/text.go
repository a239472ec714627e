package strictjson

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// checkText refuses what encoding/json would read as U+FFFD: a reviewer
// would see one thing in the file and the program get another, and two
// keys that differ only there be reported as one key written twice.
func checkText(data []byte) error {
	if i := invalidUTF8(data); i >= 0 {
		return fmt.Errorf("not valid UTF-8 at byte %d", i)
	}
	if i := loneSurrogate(data); i >= 0 {
		return fmt.Errorf("%s at byte %d: half a UTF-16 surrogate pair", data[i:i+6], i)
	}
	return nil
}

// invalidUTF8 returns the offset of data's first byte that is not UTF-8,
// or -1.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// loneSurrogate returns the offset of the first \u escape in data that is
// half a surrogate pair, as encoding/json reads one: a high half not
// followed at once by the escape of a low half, or a low half alone. It
// returns -1 when there is none. Valid JSON has backslashes only in its
// strings; malformed text is left to the decoder.
func loneSurrogate(data []byte) int {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		r, ok := escapedRune(data, i)
		switch {
		case !ok:
			i++ // \" \\ \n …: the second \ of \\ starts no escape
		case !utf16.IsSurrogate(r):
			i += 5
		default:
			low, ok := escapedRune(data, i+6)
			if r >= 0xdc00 || !ok || low < 0xdc00 || low > 0xdfff {
				return i
			}
			i += 11
		}
	}
	return -1
}

// escapedRune reads the \uXXXX escape at data[i:], if there is one.
func escapedRune(data []byte, i int) (rune, bool) {
	if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
	return rune(n), err == nil
}
