//go:build linux

package probes

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// runLoadgen is the load-generator process of BenchmarkStreamingThroughput
// (helper mode "loadgen"): SLO_PROBES_CONNS keep-alive connections POST a
// chat request to SLO_PROBES_URL and read the SSE stream to its end, as
// fast as the server answers, until the process is killed.
func runLoadgen() int {
	url := os.Getenv("SLO_PROBES_URL")
	conns, _ := strconv.Atoi(os.Getenv("SLO_PROBES_CONNS"))
	if url == "" || conns <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: SLO_PROBES_URL and SLO_PROBES_CONNS needed")
		return 2
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr}
	body := []byte(`{"model":"bench-1","stream":true,"messages":[{"role":"user","content":"Summarise the retrieved context in three sentences."}]}`)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return 0
}
