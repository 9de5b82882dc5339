package slo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

// Defaults of [WithStateFile].
const (
	// DefaultStateInterval is how often the state file is written: a crash
	// loses at most this much of the windows' history (a Close loses none).
	DefaultStateInterval = time.Minute
	// DefaultStateMaxAge is the age beyond which a state file is not
	// restored: a restart (a deploy, an eviction, a crash loop over a night)
	// takes minutes to hours; after a day every window up to 1d would hold
	// only the file's gap, and a file that old more likely belongs to an
	// earlier deployment. Seeding from the fleet ([WithPrometheusSeed])
	// covers longer absences.
	DefaultStateMaxAge = 24 * time.Hour
)

// stateFileConfig is what [WithStateFile] and its companions set.
type stateFileConfig struct {
	path     string
	interval time.Duration // 0: DefaultStateInterval
	maxAge   time.Duration // 0: DefaultStateMaxAge
}

// WithStateFile keeps the tracker's window state in the file at path across
// restarts: the counts of every burn-rate window and of the budget period,
// which alert rules held, and which parts of the windows were observed. The
// tracker writes it every [DefaultStateInterval] ([WithStateFileInterval])
// and when it closes, atomically (a temporary file in the same directory,
// fsync, rename, fsync of the directory), versioned and checksummed; at
// start it restores the file when the file belongs to the same objectives
// (names, targets and budget period, all of them) and was saved at most
// [DefaultStateMaxAge] ago ([WithStateFileMaxAge]). The time between the
// save and the start counts as unobserved (see [WithMinCoverage]). A file
// that is corrupt, truncated, of another version, of other objectives,
// saved in the future or too old is refused: the tracker starts cold, says
// why in one log line ([WithLogger]) and in [Status], and moves the file
// aside to path + ".refused". It never fails [New].
//
// The name says what it takes and holds: one file (put it on a volume that
// outlives the process, one per process), holding state — not
// configuration, not metrics. The default is no state file. An empty path
// is ignored.
func WithStateFile(path string) Option {
	return optionFunc(func(c *config) {
		if path != "" {
			c.state.file.path = path
		}
	})
}

// WithStateFileInterval sets how often [WithStateFile] writes the file. The
// default is [DefaultStateInterval]; values <= 0 are ignored.
func WithStateFileInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.state.file.interval = d
		}
	})
}

// WithStateFileMaxAge sets the age beyond which [WithStateFile] does not
// restore a file. The default is [DefaultStateMaxAge]; values <= 0 are
// ignored.
func WithStateFileMaxAge(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.state.file.maxAge = d
		}
	})
}

// StateStatus is the state of the tracker's windows: where their history
// came from and how saving it goes.
type StateStatus struct {
	// File is the state file ([WithStateFile]); empty without one.
	File string `json:"file"`
	// Restored is the time the restored state was saved at; zero when the
	// tracker did not restore one.
	Restored time.Time `json:"restored"`
	// Refused says why the state file found at start was not restored;
	// empty otherwise.
	Refused string `json:"refused"`
	// Saved is the time of the last successful save; SaveError the last
	// failure, cleared by the next success.
	Saved     time.Time `json:"saved"`
	SaveError string    `json:"save_error"`
	// Seed is the state of seeding from the fleet ([WithPrometheusSeed]).
	Seed SeedStatus `json:"seed"`

	saveCause string // cause(SaveError), to report each cause once
}

// stateRuntime is the tracker's record of its state file and seeding.
type stateRuntime struct {
	mu     sync.Mutex
	status StateStatus
}

func (r *stateRuntime) get() StateStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *stateRuntime) update(f func(*StateStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.status)
}

func (c *stateFileConfig) every() time.Duration {
	if c.interval > 0 {
		return c.interval
	}
	return DefaultStateInterval
}

func (c *stateFileConfig) oldest() time.Duration {
	if c.maxAge > 0 {
		return c.maxAge
	}
	return DefaultStateMaxAge
}

// restoreState restores the state file into the tracker's objectives, or
// refuses it with one log line. It runs in New, before the series start.
func (t *Tracker) restoreState(now time.Time) {
	path := t.cfg.state.file.path
	t.st.update(func(s *StateStatus) { s.File = path })
	saved, err := t.loadState(path, now)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return // the first start: nothing to restore
	case err != nil:
		moved := path + ".refused"
		if rerr := os.Rename(path, moved); rerr != nil {
			moved = "(not moved: " + rerr.Error() + ")"
		}
		t.cfg.logger.Warn("slo: state file refused; the tracker starts cold", "path", path, "reason", err.Error(), "moved_to", moved)
		t.st.update(func(s *StateStatus) { s.Refused = err.Error() })
		return
	}
	t.st.update(func(s *StateStatus) { s.Restored = saved })
}

// loadState reads, checks and restores the state file; on any error the
// objectives are left as they were.
func (t *Tracker) loadState(path string, now time.Time) (saved time.Time, err error) {
	b, err := readLimited(path, burn.MaxStateSize)
	if err != nil {
		return time.Time{}, err
	}
	st, err := burn.DecodeState(b)
	if err != nil {
		return time.Time{}, err
	}
	switch age := now.Sub(st.SavedAt); {
	case age < 0:
		return time.Time{}, fmt.Errorf("saved at %s, %v in the future", st.SavedAt.UTC().Format(time.RFC3339), -age.Round(time.Second))
	case age > t.cfg.state.file.oldest():
		return time.Time{}, fmt.Errorf("saved at %s, %v ago (older than %v)", st.SavedAt.UTC().Format(time.RFC3339), age.Round(time.Second), t.cfg.state.file.oldest())
	}
	if err := t.sameObjectives(st); err != nil {
		return time.Time{}, err
	}
	fresh := make([]*objState, len(t.objs))
	for i, o := range t.objs {
		if fresh[i], err = newObjState(o.obj, t.cfg.budgetPeriod, 0, t.cfg.state.gate()); err != nil {
			return time.Time{}, err
		}
		if err := st.Entries[i].Restore(fresh[i].series, fresh[i].alerts, now); err != nil {
			return time.Time{}, err
		}
	}
	for i, o := range t.objs {
		o.series, o.alerts, o.restored = fresh[i].series, fresh[i].alerts, true
	}
	return st.SavedAt, nil
}

// sameObjectives checks that st holds the tracker's objectives, in order,
// with the same targets and budget period.
func (t *Tracker) sameObjectives(st burn.State) error {
	var have, want []string
	for _, e := range st.Entries {
		have = append(have, fmt.Sprintf("%s@%v", e.Name, e.Target))
	}
	for _, o := range t.objs {
		want = append(want, fmt.Sprintf("%s@%v", o.name, o.obj.target))
	}
	if st.Period != t.cfg.budgetPeriod || !slices.Equal(have, want) {
		return fmt.Errorf("belongs to other objectives: %s over %v, the tracker has %s over %v",
			strings.Join(have, ", "), st.Period, strings.Join(want, ", "), t.cfg.budgetPeriod)
	}
	return nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// saveLoop writes the state file every interval until the tracker stops.
func (t *Tracker) saveLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.cfg.state.file.every())
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.saveState()
		case <-t.stop:
			return
		}
	}
}

// saveState writes the state file; a failure goes to the error handler
// once per distinct cause and to the status.
func (t *Tracker) saveState() {
	now := t.cfg.now()
	st := burn.State{SavedAt: now, Period: t.cfg.budgetPeriod}
	for _, o := range t.objs {
		o.mu.Lock()
		st.Entries = append(st.Entries, burn.Capture(o.name, o.series, o.alerts, now))
		o.mu.Unlock()
	}
	b, err := st.AppendBinary(nil)
	if err == nil {
		err = writeFileAtomic(t.cfg.state.file.path, b)
	}
	var report bool
	t.st.update(func(s *StateStatus) {
		if err == nil {
			s.Saved, s.SaveError, s.saveCause = now, "", ""
			return
		}
		report = s.saveCause != cause(err)
		s.SaveError, s.saveCause = err.Error(), cause(err)
	})
	if report {
		t.cfg.errorHandler(fmt.Errorf("slo: save state file: %w", err))
	}
}

// cause is what distinguishes one save failure from another: a file
// operation and its error, without the temporary file's random name.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, written and synced, renamed over path, and the directory
// synced, so that a crash leaves the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: not every platform syncs directories
		_ = d.Close()
	}
	return nil
}
