package correlate

// Retry storms: too many retransmissions, failed connects or client retries
// toward one destination within StormWindow.

import "net/netip"

// Retry records a client-level retry toward remote at mono for the retry
// storm detector.
func (j *Joiner) Retry(remote netip.AddrPort, mono int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tick(mono)
	if i := j.dests.find(remote); i >= 0 {
		j.stormNote(&j.dests.recs[i], mono)
	}
}

// stormNote records a retry-storm-relevant event at t on d and reports
// whether d is in a storm at t.
func (j *Joiner) stormNote(d *idxRec[netip.AddrPort], t int64) bool {
	n := j.cfg.StormCount
	if cap(d.storm) < n {
		d.storm = make([]int64, n)
	}
	d.storm = d.storm[:n]
	d.storm[d.sp] = t
	d.sp = (d.sp + 1) % n
	d.sn = min(d.sn+1, n)
	if d.sn == n {
		oldest := d.storm[d.sp] // the entry after the newest
		if t-oldest <= int64(j.cfg.StormWindow) {
			if d.stormUntil < oldest {
				j.stats.Storms++
			}
			d.stormUntil = t + int64(j.cfg.StormWindow)
		}
	}
	return t <= d.stormUntil && d.stormUntil != 0
}
