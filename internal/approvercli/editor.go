package approvercli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// ExternalEditor edits text with an external program, as git does: Command
// is a shell command line ($VISUAL or $EDITOR) run with the path of a
// temporary file holding the text, on the approver's terminal.
type ExternalEditor struct {
	Command string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// EditorFromEnv returns the editor of $VISUAL, else $EDITOR, else vi.
func EditorFromEnv(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) ExternalEditor {
	cmd := getenv("VISUAL")
	if cmd == "" {
		cmd = getenv("EDITOR")
	}
	if cmd == "" {
		cmd = "vi"
	}
	return ExternalEditor{Command: cmd, Stdin: stdin, Stdout: stdout, Stderr: stderr}
}

// Edit writes text to a private temporary file, runs the editor on it, and
// returns what the file holds when the editor exits successfully.
func (e ExternalEditor) Edit(ctx context.Context, text string) (string, error) {
	if e.Command == "" {
		return "", errors.New("no editor command")
	}
	dir, err := os.MkdirTemp("", "approver-edit-")
	if err != nil {
		return "", fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "arguments.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	// The command line is the user's own, as with git; the path is passed
	// as an argument, never spliced into it.
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", e.Command+` "$1"`, "editor", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.Stdin, e.Stdout, e.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("editor %q: %w", e.Command, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the edit: %w", err)
	}
	return string(b), nil
}
