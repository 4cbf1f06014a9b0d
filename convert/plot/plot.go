package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
)

// plotFloor is the smallest error a log-scale plot shows; exact zeros sit on it. plotCeil
// is the largest: an error that is not finite (parity.TensorReport.MaxAbsErr) sits on it.
const (
	plotFloor = 1e-12
	plotCeil  = 1e300
)

// onScale returns the error e within [plotFloor, plotCeil], a NaN at plotCeil.
func onScale(e float64) float64 {
	if !(e <= plotCeil) {
		return plotCeil
	}
	return math.Max(e, plotFloor)
}

// CheckPath reports whether Save can draw to path: an .svg or .png file (by its
// extension). A caller checks it before the work whose result it will draw.
func CheckPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".png":
		return nil
	}
	return fmt.Errorf("plot %s: want a .svg or .png file", path)
}

// Save draws the report's per-step output error (parity.Report.StepErrors), one line per
// direction, its error against the float64 truth (TruthStepErrors, all directions), and
// the output's absolute tolerance as a dashed line, titled with the model and the first
// diagnosis of a failure, to path as SVG or PNG (by its extension), atomically
// (convert.WriteFile).
func Save(r *parity.Report, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	errs := r.StepErrors()
	if errs == nil {
		return fmt.Errorf("no output errors to plot: the output could not be compared")
	}
	ext := strings.ToLower(filepath.Ext(path))
	atol := 0.0
	for _, t := range r.Tensors {
		if t.Name == parity.RefOutput {
			atol = t.Atol
		}
	}
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("Go vs PyTorch: %s", r.Model.Module)
	if len(r.Diagnosis) > 0 {
		p.Title.Text += "; diagnosis: " + r.Diagnosis[0].Name
	}
	p.X.Label.Text = "time step"
	p.Y.Label.Text = "max abs error of the output"
	p.Y.Scale = gplot.LogScale{}
	p.Y.Tick.Marker = powerTicks{}
	p.X.Tick.Marker = stepTicks{}
	p.Add(plotter.NewGrid())
	names := []string{"forward", "reverse"}
	for d, e := range errs {
		pts := make(plotter.XYs, len(e))
		for t, v := range e {
			pts[t].X, pts[t].Y = float64(t), onScale(v)
		}
		line, dots, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color = plotter.DefaultLineStyle.Color
		if d == 1 {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			dots.Shape = draw.PyramidGlyph{}
		}
		line.LineStyle.Color = lineColors[d]
		dots.Color = lineColors[d]
		p.Add(line, dots)
		if len(errs) > 1 {
			p.Legend.Add("|Go - PyTorch|, "+names[d], line, dots)
		} else {
			p.Legend.Add("|Go - PyTorch|", line, dots)
		}
	}
	if truth := r.TruthStepErrors(); truth != nil {
		pts := make(plotter.XYs, len(truth[0]))
		for t := range pts {
			pts[t].X = float64(t)
			for _, e := range truth {
				pts[t].Y = math.Max(pts[t].Y, e[t])
			}
			pts[t].Y = onScale(pts[t].Y)
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = lineColors[3]
		line.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(line)
		p.Legend.Add("|Go - float64 truth|", line)
	}
	steps := float64(max(len(errs[0])-1, 1))
	tolLine, err := plotter.NewLine(plotter.XYs{{X: 0, Y: atol}, {X: steps, Y: atol}})
	if err != nil {
		return err
	}
	tolLine.Color = lineColors[2]
	tolLine.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(tolLine)
	p.Legend.Add(fmt.Sprintf("atol %g", atol), tolLine)
	p.Legend.Top = true
	p.Y.Min = plotFloor
	p.Y.Max = math.Max(p.Y.Max, atol) * 1000 // room for the legend
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, ext[1:])
	if err != nil {
		return err
	}
	return convert.WriteFile(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

var lineColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// powerTicks labels each power of ten of a log axis.
type powerTicks struct{}

func (powerTicks) Ticks(min, max float64) []gplot.Tick {
	lo := math.Floor(math.Log10(onScale(min)))
	hi := math.Ceil(math.Log10(onScale(max)))
	step := math.Max(1, math.Ceil((hi-lo)/maxPowerTicks)) // at most maxPowerTicks+1 ticks
	var ticks []gplot.Tick
	for e := lo; e <= hi; e += step {
		ticks = append(ticks, gplot.Tick{Value: math.Pow(10, e), Label: fmt.Sprintf("1e%d", int(e))})
	}
	return ticks
}

// maxPowerTicks bounds the number of powers of ten labelled on the error axis.
const maxPowerTicks = 16

// stepTicks labels whole time steps, at most about ten of them.
type stepTicks struct{}

func (stepTicks) Ticks(min, max float64) []gplot.Tick {
	step := math.Max(1, math.Ceil((max-min)/10))
	var ticks []gplot.Tick
	for v := math.Ceil(min); v <= max; v += step {
		ticks = append(ticks, gplot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ticks
}
