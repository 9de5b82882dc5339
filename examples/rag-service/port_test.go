package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs the service's main instead of the tests when the test binary
// is started by TestPortTaken as the program itself.
func TestMain(m *testing.M) {
	if os.Getenv("RAG_SERVICE_MAIN") == "1" {
		os.Args = append([]string{"rag-service"}, strings.Fields(os.Getenv("RAG_SERVICE_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestPortTaken runs the service on a port another listener holds: run
// returns the listen error, which names the cause, and nothing panics
// (startApp stops what it started before the listen failed); the program
// prints the cause and exits with status 1.
func TestPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, k := range []string{"OPENAI_BASE_URL", "OLLAMA_HOST", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		t.Setenv(k, "")
	}
	args := []string{"-addr", ln.Addr().String(), "-status-every", "0"}

	var out bytes.Buffer
	err = run(args, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run on a taken port: %v, want an error saying the address is in use", err)
	}

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RAG_SERVICE_MAIN=1", "RAG_SERVICE_ARGS="+strings.Join(args, " "))
	stderr, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("the program exited with %v, want status 1\n%s", err, stderr)
	}
	if !strings.Contains(string(stderr), "rag-service: listen tcp "+ln.Addr().String()+": bind: address already in use") {
		t.Errorf("the program's output does not name the taken address:\n%s", stderr)
	}
	if strings.Contains(string(stderr), "panic") {
		t.Errorf("the program panicked:\n%s", stderr)
	}
}
