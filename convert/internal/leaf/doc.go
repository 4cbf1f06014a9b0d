// Package leaf holds what the format packages share about a checkpoint's leaves.
package leaf
