package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hitl/durable-approvals/internal/termtext"
)

// proc is a child process of the stack.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	mu   sync.Mutex
	err  error // Wait's result, set before done is closed
	log  io.Closer
	// logPath is where its output goes ("" when it has no log file).
	logPath string
}

// startProc starts path with args and env, its output appended to
// logPath. detach puts it in its own process group (so the terminal's
// Ctrl-C reaches only the devstack, which stops the children in order).
func startProc(name, path string, args, env []string, dir, logPath string, detach bool) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	fmt.Fprintf(logf, "\n=== %s: %s %q\n", time.Now().Format(time.RFC3339), path, args)
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if detach {
		cmd.SysProcAttr = childSysProcAttr()
	}
	p, err := launch(name, cmd, logf)
	if p != nil {
		p.logPath = logPath
	}
	return p, err
}

// launch starts cmd and reaps it in the background.
func launch(name string, cmd *exec.Cmd, log io.Closer) (*proc, error) {
	if err := cmd.Start(); err != nil {
		if log != nil {
			log.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		if p.log != nil {
			p.log.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *proc) Exited() <-chan struct{} { return p.done }

// Err is the process's exit error, once Exited is closed.
func (p *proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// exitedDuringStartup is the error of a process that exited while it
// should have been starting: its exit status and the last line of its
// log, where the programs of the stack say why they stop.
func (p *proc) exitedDuringStartup() error {
	if last := lastLine(p.logPath); last != "" {
		return fmt.Errorf("%s exited during startup: %v: %s", p.name, p.Err(), last)
	}
	return fmt.Errorf("%s exited during startup: %v", p.name, p.Err())
}

// lastLine returns the last non-empty line of the file at path (read from
// its last 4 KiB), shortened and safe for a terminal; "" when there is none
// or the process wrote nothing after startProc's header.
func lastLine(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 4096
	var off int64
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		off = fi.Size() - tail
	}
	buf := make([]byte, tail)
	n, _ := f.ReadAt(buf, off)
	lines := strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if strings.HasPrefix(last, "=== ") {
		return "" // startProc's header: the process wrote nothing
	}
	if len(last) > 500 {
		last = last[:500] + "…"
	}
	return termtext.Line(last)
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills the
// process. A process that exits on SIGTERM is not an error.
func (p *proc) Stop(grace time.Duration) error {
	return p.stopWith(syscall.SIGTERM, grace)
}

// buildMains builds each main package (name -> package path) into binDir
// with one `go build` per package.
func buildMains(ctx context.Context, root, binDir string, mains map[string]string, log io.Writer) (map[string]string, error) {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	out := map[string]string{}
	names := sortedKeys(mains)
	for _, name := range names {
		bin := filepath.Join(binDir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, mains[name])
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build %s: %w (see the output above)", mains[name], err)
		}
		out[name] = bin
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// waitAll blocks until ctx is done (nil) or one of ps exits (an error
// naming it and its log in logDir). Nil entries are parts not started.
func waitAll(ctx context.Context, ps []*proc, logDir string) error {
	died := make(chan *proc, len(ps))
	for _, p := range ps {
		if p == nil {
			continue
		}
		go func() {
			select {
			case <-p.Exited():
				died <- p
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case p := <-died:
		return fmt.Errorf("%s exited unexpectedly (%v); see %s", p.name, p.Err(), filepath.Join(logDir, p.name+".log"))
	}
}
