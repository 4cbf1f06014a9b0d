// Package convert turns what package pickle reads into what package rnn runs, and back
// into files.
//
// Load finds the recurrent module's weights in a checkpoint (a bare state_dict, a nested
// training checkpoint, prefixed keys, or a whole pickled module), infers its
// configuration from the shapes, validates every key strictly, and builds an rnn.Model.
// Check runs the model on reference tensors a notebook exported and measures the error
// of each output; Export writes checkpoints as safetensors, npz, JSON or .pt files.
//
// Every output file is written atomically: to a temporary file beside the target, synced,
// then renamed, so an interrupted run leaves the old file or the complete new one.
package convert
