package authserver

import (
	"sync"
	"time"
)

// Bounds of the addresses remembered per user name.
const (
	// rememberedAddrs is how many client addresses are remembered per
	// user name after a successful login.
	rememberedAddrs = 8
	// rememberFor is how long a successful login's address is remembered.
	rememberFor = 7 * 24 * time.Hour
)

// nameGate caps the password checks per user name from all client
// addresses together. A limit that only delays caps nothing when the
// delays run side by side: parallel requests from many addresses (an IPv6
// /48 holds 65,536 /64 keys) would each wait, then each be checked.
//
// Each name has two lanes: the client addresses that logged in as that
// name successfully in the last rememberFor (at most rememberedAddrs of
// them), and every other address. Per lane and window (which starts at the
// lane's first counted attempt), the first free attempts are checked at
// once. Each further attempt gets a turn,
//
//	turn = max(now, previous turn) + min(step × (attempts beyond free), maxStep)
//
// and its password is checked only at its turn, so the lane's checks are
// serialised and at least step apart, growing to maxStep. An attempt whose
// turn is more than maxWait away is refused without a check. So the checks
// per lane and window are bounded whatever the number of addresses and
// parallel requests (see maxChecks), and an approver at an address they
// logged in from before is not queued behind guesses from elsewhere.
//
// Attempts are counted before the check and taken back (forgive) when the
// password was right or the client went away, so only failures drive the
// delay. Memory is bounded: at most size lanes are kept; when full, idle
// lanes go first, then the oldest lane of a name not in the users file,
// then the oldest lane.
type nameGate struct {
	free    int
	window  time.Duration
	step    time.Duration
	maxStep time.Duration
	maxWait time.Duration
	size    int

	mu         sync.Mutex
	lanes      map[laneKey]*lane
	remembered map[string][]rememberedAddr
}

type laneKey struct {
	name  string
	known bool // the lane of the name's remembered addresses
}

type lane struct {
	start  time.Time // start of the window
	count  int       // attempts counted in the window
	turn   time.Time // the latest turn handed out
	exists bool      // the name was in the users file at the last attempt
}

type rememberedAddr struct {
	key string
	at  time.Time
}

func newNameGate(free int, window, step, maxStep time.Duration, size int) *nameGate {
	return &nameGate{
		free: free, window: window, step: step, maxStep: maxStep, maxWait: maxStep, size: size,
		lanes: map[laneKey]*lane{}, remembered: map[string][]rememberedAddr{},
	}
}

// reserve counts an attempt for name from the client address addrKey at
// now. exists says whether the name is in the users file (it only decides
// what is evicted first). It returns how long the password check must wait
// for its turn; or ok false and how long until a turn may be had, for a
// request refused without a check. The returned lane identifies the
// attempt for forgive.
func (g *nameGate) reserve(name, addrKey string, exists bool, now time.Time) (k laneKey, wait, retry time.Duration, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k = laneKey{name: name, known: g.isRemembered(name, addrKey, now)}
	l := g.lanes[k]
	if l != nil && !now.Before(l.start.Add(g.window)) {
		l.start, l.count = now, 0 // a new window; the turns go on
	}
	if l == nil {
		if len(g.lanes) >= g.size {
			g.evict(now)
		}
		l = &lane{start: now}
		g.lanes[k] = l
	}
	l.exists = exists
	over := l.count + 1 - g.free
	if over <= 0 {
		l.count++
		return k, 0, 0, true
	}
	turn := l.turn
	if turn.Before(now) {
		turn = now
	}
	turn = turn.Add(g.delay(over))
	if wait := turn.Sub(now); wait > g.maxWait {
		return k, 0, max(wait-g.maxWait, time.Second), false
	}
	l.count++
	l.turn = turn
	return k, turn.Sub(now), 0, true
}

// delay is the spacing of the over-th attempt beyond the free ones.
func (g *nameGate) delay(over int) time.Duration {
	if g.step <= 0 {
		return 0
	}
	if over > int(g.maxStep/g.step) {
		return g.maxStep
	}
	return time.Duration(over) * g.step
}

// forgive takes back an attempt counted by reserve: the password was right,
// or the client went away before its check. Its turn stays taken.
func (g *nameGate) forgive(k laneKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l, ok := g.lanes[k]; ok && l.count > 0 {
		l.count--
	}
}

// remember records a successful login of name from addrKey.
func (g *nameGate) remember(name, addrKey string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	addrs := g.remembered[name]
	kept := addrs[:0]
	for _, a := range addrs {
		if a.key != addrKey && now.Sub(a.at) < rememberFor {
			kept = append(kept, a)
		}
	}
	if len(kept) >= rememberedAddrs {
		kept = kept[len(kept)-rememberedAddrs+1:] // drop the oldest
	}
	g.remembered[name] = append(kept, rememberedAddr{key: addrKey, at: now})
}

// isRemembered reports whether name logged in from addrKey within
// rememberFor. The caller holds g.mu.
func (g *nameGate) isRemembered(name, addrKey string, now time.Time) bool {
	for _, a := range g.remembered[name] {
		if a.key == addrKey && now.Sub(a.at) < rememberFor {
			return true
		}
	}
	return false
}

// evict makes room for one lane. The caller holds g.mu.
func (g *nameGate) evict(now time.Time) {
	var oldest, oldestGhost *laneKey
	var oldestStart, ghostStart time.Time
	for k, l := range g.lanes {
		if !now.Before(l.start.Add(g.window)) && !l.turn.After(now) {
			delete(g.lanes, k) // idle: its window is over and no turn is pending
			continue
		}
		if oldest == nil || l.start.Before(oldestStart) {
			oldest, oldestStart = &k, l.start
		}
		if !l.exists && (oldestGhost == nil || l.start.Before(ghostStart)) {
			oldestGhost, ghostStart = &k, l.start
		}
	}
	if len(g.lanes) < g.size {
		return
	}
	if oldestGhost != nil {
		delete(g.lanes, *oldestGhost)
	} else if oldest != nil {
		delete(g.lanes, *oldest)
	}
}

// len returns the number of lanes held (tests).
func (g *nameGate) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.lanes)
}

// maxNameChecksPerWindow is the most password checks one lane of a user
// name gets in one FailureWindow with the default settings, however many
// requests arrive: 5 free ones, then turns 1 s, 2 s, 3 s, 4 s and then 5 s
// apart (0, 1, 3, 6, 10, 15, …, 55 s into the window: 13), plus one turn
// handed out in the previous window that falls into this one. A name has
// two lanes, the second only for addresses it logged in from.
const maxNameChecksPerWindow = DefaultMaxFailures + 13 + 1
