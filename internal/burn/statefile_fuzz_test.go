package burn

import (
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// stateSeeds returns valid encodings: series of two targets and periods
// with random traffic, a restart gap, a seeded ring and held rules.
func stateSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 11))
		period := []time.Duration{0, 7 * 24 * time.Hour, 6 * time.Hour}[seed]
		st := State{Period: DefaultPeriod}
		if period != 0 {
			st.Period = period
		}
		now := base
		for i, target := range []float64{0.99, 0.999} {
			s, _ := NewSeries(target, period)
			al, _ := NewAlerter(s, nil, DefaultGate())
			s.Start(now)
			for range 400 {
				now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Minute))))
				s.Add(now, rng.IntN(5) != 0)
				al.Fire(now)
			}
			s.Stop(now)
			now = now.Add(time.Minute)
			s.Start(now)
			if i == 1 {
				g, _ := s.Grid(now, 6*time.Hour)
				counts := make([]Count, g.N)
				for k := range counts {
					counts[k] = Count{Good: int64(k), Total: int64(2 * k)}
				}
				if err := s.Seed(now, 6*time.Hour, counts, now.Add(-3*time.Hour)); err != nil {
					tb.Fatal(err)
				}
			}
			st.Entries = append(st.Entries, Capture(string(rune('a'+i)), s, al, now))
		}
		st.SavedAt = now
		b, err := st.AppendBinary(nil)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzStateDecode feeds DecodeState arbitrary bytes (from valid files,
// damaged by the fuzzer; the checksum makes most mutations fail early, so
// the seeds also include files whose checksum is recomputed after a
// change). It must never panic; what it accepts must survive a round trip
// through the encoder and restore into a fresh series of its target without
// a panic, giving counts that are not negative and coverage within [0, 1].
func FuzzStateDecode(f *testing.F) {
	for _, b := range stateSeeds(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, fixSum bool) {
		if fixSum && len(b) >= stateHeader+stateTrailer {
			// Let mutations reach the body: correct the framing and checksum.
			b = append([]byte(nil), b...)
			copy(b, stateMagic[:])
			b[8], b[9], b[10], b[11] = StateVersion, 0, 0, 0
			n := len(b) - stateHeader - stateTrailer
			b[12], b[13], b[14], b[15] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
			sum := crc32.Checksum(b[:len(b)-stateTrailer], castagnoli)
			copy(b[len(b)-stateTrailer:], []byte{byte(sum), byte(sum >> 8), byte(sum >> 16), byte(sum >> 24)})
		}
		st, err := DecodeState(b)
		if err != nil {
			return
		}
		again, err := st.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		st2, err := DecodeState(again)
		if err != nil || !reflect.DeepEqual(st, st2) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, st, st2)
		}
		now := st.SavedAt.Add(time.Minute)
		for _, e := range st.Entries {
			s, err := NewSeries(e.Target, st.Period)
			if err != nil {
				t.Fatalf("decoded a target NewSeries refuses: %v", err)
			}
			al, _ := NewAlerter(s, nil, DefaultGate())
			if err := e.Restore(s, al, now); err != nil {
				continue
			}
			s.Start(now)
			al.Fire(now)
			for _, w := range StandardWindows() {
				ws := s.Stat(now, w.Dur)
				if ws.Good < 0 || ws.Total < ws.Good || ws.Coverage < 0 || ws.Coverage > 1 {
					t.Fatalf("%s over %s: %+v", e.Name, w.Name, ws)
				}
			}
		}
	})
}
