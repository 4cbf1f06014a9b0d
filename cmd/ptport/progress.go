package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// meter shows the progress of a command on a terminal: one line, redrawn in place,
// never wider than the terminal (so that it never wraps), with what is done of what
// there is to do, a rate averaged over the last seconds and the time left. It draws
// nothing until the command has run for a second, and nothing at all when its writer is
// not a terminal. Units are those of bytesText and rateText everywhere, summaries
// included.
type meter struct {
	w     io.Writer
	fd    int  // the terminal's, for its width
	live  bool // w is a terminal
	what  string
	total int64 // bytes to do; 0 when not known
	items int   // items to do (files); 0 when not counted
	start time.Time

	mu      sync.Mutex
	done    int64
	doneN   int
	samples []sample // of the last rateWindow, oldest first
	shown   bool     // the line is on the screen
	quit    chan struct{}
	wg      sync.WaitGroup
}

type sample struct {
	at   time.Time
	done int64
}

const (
	meterDelay   = time.Second // no line for what ends sooner
	meterTick    = 200 * time.Millisecond
	rateWindow   = 5 * time.Second // the rate is the average over this
	etaDelay     = 3 * time.Second // no time left from a rate of fewer seconds
	minBarWidth  = 10
	defaultWidth = 80
)

// newMeter starts a meter on w for total bytes (0: unknown) and items (0: not counted),
// what being a word for the work ("converting model.pt").
func newMeter(w io.Writer, what string, total int64, items int) *meter {
	m := &meter{w: w, what: what, total: total, items: items, start: time.Now(), quit: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		m.live, m.fd = true, int(f.Fd())
	}
	if m.live {
		m.wg.Add(1)
		go m.run()
	}
	return m
}

func (m *meter) run() {
	defer m.wg.Done()
	t := time.NewTicker(meterTick)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			m.mu.Lock()
			m.sample(now)
			if now.Sub(m.start) >= meterDelay {
				m.draw(now)
			}
			m.mu.Unlock()
		case <-m.quit:
			return
		}
	}
}

// add counts bytes and items done.
func (m *meter) add(bytes int64, items int) {
	m.mu.Lock()
	m.done += bytes
	m.doneN += items
	m.mu.Unlock()
}

// set sets the bytes done.
func (m *meter) set(bytes int64) {
	m.mu.Lock()
	m.done = bytes
	m.mu.Unlock()
}

// println prints a line of its own above the meter's.
func (m *meter) println(line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shown {
		fmt.Fprint(m.w, "\r\033[K")
	}
	fmt.Fprintln(m.w, line)
	if m.shown {
		m.draw(time.Now())
	}
}

// stop removes the meter's line.
func (m *meter) stop() {
	close(m.quit)
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shown {
		fmt.Fprint(m.w, "\r\033[K")
		m.shown = false
	}
}

// sample records the bytes done at now and forgets what is older than rateWindow,
// keeping one sample at or before the window's start.
func (m *meter) sample(now time.Time) {
	m.samples = append(m.samples, sample{now, m.done})
	i := 0
	for i+1 < len(m.samples) && now.Sub(m.samples[i+1].at) >= rateWindow {
		i++
	}
	m.samples = m.samples[i:]
}

// rate is bytes per second over the last rateWindow (since the start, before that).
func (m *meter) rate(now time.Time) float64 {
	from := sample{m.start, 0}
	if len(m.samples) > 0 && now.Sub(m.samples[0].at) >= rateWindow {
		from = m.samples[0]
	}
	el := now.Sub(from.at).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(m.done-from.done) / el
}

func (m *meter) draw(now time.Time) {
	width := defaultWidth
	if w, _, err := term.GetSize(m.fd); err == nil && w > 0 {
		width = w
	}
	fmt.Fprint(m.w, "\r\033[K"+m.line(width, now))
	m.shown = true
}

// line is the meter's text at now, at most width-1 columns: the bar and what fits of
// the counts, sizes, rate and time left, in that order of importance.
func (m *meter) line(width int, now time.Time) string {
	el := now.Sub(m.start)
	total := m.total
	if m.done > total {
		total = 0 // an estimate, passed: what is done is all that is known
	}
	frac := -1.0
	switch {
	case total > 0:
		frac = min(float64(m.done)/float64(total), 1)
	case m.items > 0:
		frac = min(float64(m.doneN)/float64(m.items), 1)
	}
	var parts []string
	if m.items > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d files", m.doneN, m.items))
	}
	if total > 0 {
		parts = append(parts, bytesText(m.done)+" of "+bytesText(total))
	} else if m.done > 0 {
		parts = append(parts, bytesText(m.done))
	}
	rate := m.rate(now)
	if m.done > 0 && rate > 0 {
		parts = append(parts, rateText(rate))
	}
	if frac >= 0 && total > 0 && rate > 0 && frac < 1 && el >= etaDelay {
		parts = append(parts, "ETA "+durationText(time.Duration(float64(total-m.done)/rate*float64(time.Second))))
	} else {
		parts = append(parts, durationText(el))
	}
	limit := width - 1
	for {
		text := m.what
		if len(parts) > 0 {
			text += "  " + strings.Join(parts, "  ")
		}
		if frac < 0 {
			return clip(text, limit)
		}
		if barw := limit - len(text) - 3; barw >= minBarWidth || len(parts) == 0 {
			barw = max(barw, minBarWidth)
			fill := int(frac * float64(barw))
			bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barw-fill) + "] "
			return clip(bar+text, limit)
		}
		// drop the least important part that is left, the rate before the counts
		if len(parts) >= 3 {
			parts = append(parts[:len(parts)-2], parts[len(parts)-1])
		} else {
			parts = parts[:len(parts)-1]
		}
	}
}

// clip cuts s to at most n columns (its bytes, ASCII: names in it are escaped).
func clip(s string, n int) string {
	if n < 1 {
		return ""
	}
	if len(s) > n {
		return s[:n]
	}
	return s
}

// bytesText is n bytes in binary units: "512 B", "1.5 KiB", "12.3 MiB", "1.02 GiB".
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	format := "%.1f %ciB"
	if v >= 100 {
		format = "%.0f %ciB"
	}
	return fmt.Sprintf(format, v, "KMGTPE"[exp])
}

// rateText is a rate of bytes per second in the units of bytesText.
func rateText(perSecond float64) string {
	return bytesText(int64(perSecond)) + "/s"
}

// durationText is d to the second: "45s", "3m07s", "2h05m".
func durationText(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
}
