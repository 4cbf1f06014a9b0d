package convert_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// TestWildWholeModels loads real char-level and sequence models of ../../shared/wild,
// when it is present, and checks the whole model Load finds around the recurrent module:
// Embedding -> RNN/LSTM/GRU -> Linear for the char models, none where the modules
// beside it do not fit (two heads, an attention decoder), and a pickled Sequential of
// layers. The committed fixtures (TestLoad) cover the same rules.
func TestWildWholeModels(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "wild", "files")
	if _, err := os.Stat(dir); err != nil {
		t.Logf("no shared wild files at %s", dir)
		return
	}
	for _, tc := range []struct {
		file   string
		layers string // "" when the whole model is not known
	}{
		{"ahmadph_autoshakespeare_gru.pth", `"embedding." Embedding(59, 59) | "recurrent_module." GRU(59, 500) | "fc." Linear(in_features=500, out_features=59, bias=True)`},
		{"efay_charrnn_RNN_2_layers.pt", `"encoder." Embedding(100, 100) | "rnn." GRU(100, 100, num_layers=2) | "decoder." Linear(in_features=100, out_features=100, bias=True)`},
		{"knrd_plnlp_shakespeare.pt", `"encoder." Embedding(100, 50) | "gru." GRU(50, 50, num_layers=2) | "decoder." Linear(in_features=50, out_features=100, bias=True)`},
		{"oknelbistan_charrnn_lstm_model.pt", `"embed." Embedding(128, 128) | "LSTM." LSTM(128, 128) | "fc." Linear(in_features=128, out_features=128, bias=True)`},
		{"tankzhou_lstmstock_rnn.pkl", `"lstm." LSTM(1, 64, batch_first=True) | "out.0." Linear(in_features=64, out_features=1, bias=True)`},
		{"amiltonwong_practice_net.pkl", `"0." Linear(in_features=2, out_features=10, bias=True) | "1." ReLU() | "2." Linear(in_features=10, out_features=2, bias=True)`},
		{"szymon_carracer_rnn_best.pth", ""},
		{"pmal19_seq2seq_decoder.pt", ""},
	} {
		path := filepath.Join(dir, tc.file)
		cp, err := convert.Open(path, &pickle.Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		m, err := convert.Load(cp, convert.Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			cp.Close()
			continue
		}
		var got []string
		for _, l := range m.Layers {
			got = append(got, strconv.Quote(l.Prefix)+" "+l.Module)
		}
		if s := strings.Join(got, " | "); s != tc.layers {
			t.Errorf("%s: layers\n got %s\nwant %s", tc.file, s, tc.layers)
		}
		s, err := convert.Sequential[float32](m)
		if (err == nil) != (tc.layers != "") {
			t.Errorf("%s: Sequential: %v", tc.file, err)
		}
		if s != nil {
			if _, ok := s.Layers()[0].(*rnn.Embedding[float32]); ok {
				// A char model runs from token ids to logits, one step at a time.
				st, err := s.NewStream(1)
				if err != nil {
					t.Fatal(err)
				}
				y, err := st.StepIndices(&rnn.Tensor[int64]{Data: []int64{1, 2, 3}, Shape: []int{3}})
				if err != nil || len(y.Shape) != 2 || y.Shape[0] != 3 {
					t.Errorf("%s: stepping 3 ids: %v %v", tc.file, y, err)
				}
			}
		}
		cp.Close()
	}
}
