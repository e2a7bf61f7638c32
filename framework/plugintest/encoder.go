package plugintest

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
)

// EncoderOptions fit the encoder suite to an encoder.
type EncoderOptions struct {
	Common
	// Texts are task descriptions the encoder embeds; at least two, different.
	// Default: two descriptions in plain English.
	Texts []string
	// Dim, when set, is the width every vector must have.
	Dim int
	// Unknown, when set, is a word outside the encoder's vocabulary: a text of only
	// that word must be refused with an error naming it, and Texts[0] with it added
	// must embed (unknown words skipped), as the built-in encoders document.
	Unknown string
}

// Encoder runs the conformance suite of encoders, each check on a fresh plugin from
// newEnc:
//
//   - info, unknown_parameter_refused_by_name, every_bad_parameter_reported_at_once,
//     declared_constraints_enforced, documented_defaults_accepted (as for generators);
//   - one_finite_vector_per_text: as many vectors as texts, all of one width (Dim when
//     given), finite, not all zero;
//   - same_text_same_vector: a text gets the same vector bit for bit whatever it is
//     embedded with, twice in one call, in a second call and from a fresh plugin;
//   - unknown_words (with Unknown): handled as documented above.
func Encoder(t *testing.T, newEnc func(testing.TB) plugin.Encoder, o EncoderOptions) {
	t.Helper()
	runChecks(t, encoderChecks(o), newEnc)
}

func encoderChecks(o EncoderOptions) []check[plugin.Encoder] {
	texts := o.Texts
	if len(texts) == 0 {
		texts = []string{"handwritten digits rotated by a quarter turn", "photographs of clothing with heavy blur"}
	}
	return append(baseChecks[plugin.Encoder](plugin.KindEncoder, o.Common, nil),
		check[plugin.Encoder]{"one_finite_vector_per_text", func(t testing.TB, newEnc func(testing.TB) plugin.Encoder) error {
			e, err := configured(t, newEnc, o.Common)
			if err != nil {
				return err
			}
			_, err = embed(e, texts, o.Dim)
			return err
		}},
		check[plugin.Encoder]{"same_text_same_vector", func(t testing.TB, newEnc func(testing.TB) plugin.Encoder) error {
			e, err := configured(t, newEnc, o.Common)
			if err != nil {
				return err
			}
			batch := append(append([]string(nil), texts...), texts[0])
			vs, err := embed(e, batch, o.Dim)
			if err != nil {
				return err
			}
			if err := sameBits(vs[0], vs[len(texts)]); err != nil {
				return fmt.Errorf("%q twice in one call: %v", texts[0], err)
			}
			alone, err := embed(e, texts[:1], o.Dim)
			if err != nil {
				return err
			}
			if err := sameBits(vs[0], alone[0]); err != nil {
				return fmt.Errorf("%q alone and in a batch: %v", texts[0], err)
			}
			fresh, err := configured(t, newEnc, o.Common)
			if err != nil {
				return err
			}
			again, err := embed(fresh, texts, o.Dim)
			if err != nil {
				return err
			}
			for i := range texts {
				if err := sameBits(vs[i], again[i]); err != nil {
					return fmt.Errorf("%q from a fresh plugin: %v", texts[i], err)
				}
			}
			return nil
		}},
		check[plugin.Encoder]{"unknown_words", func(t testing.TB, newEnc func(testing.TB) plugin.Encoder) error {
			if o.Unknown == "" {
				t.Skip("EncoderOptions.Unknown not set: the encoder has no unknown words")
			}
			e, err := configured(t, newEnc, o.Common)
			if err != nil {
				return err
			}
			if _, err := e.Embed(ctx, []string{o.Unknown}); err == nil || !strings.Contains(err.Error(), o.Unknown) {
				return fmt.Errorf("a text of only the unknown word %q: want an error naming it, got %v", o.Unknown, err)
			}
			if _, err := embed(e, []string{texts[0] + " " + o.Unknown}, o.Dim); err != nil {
				return fmt.Errorf("a known text with the unknown word %q added: %v", o.Unknown, err)
			}
			return nil
		}},
	)
}

// embed embeds texts and checks the answer's shape and values.
func embed(e plugin.Encoder, texts []string, dim int) ([][]float32, error) {
	vs, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("Embed(%q): %v", texts, err)
	}
	if len(vs) != len(texts) {
		return nil, fmt.Errorf("Embed of %d texts returned %d vectors", len(texts), len(vs))
	}
	for i, v := range vs {
		if len(v) == 0 || len(v) != len(vs[0]) || dim > 0 && len(v) != dim {
			return nil, fmt.Errorf("text %q: a vector of %d numbers (the first text's has %d, declared %d)", texts[i], len(v), len(vs[0]), dim)
		}
		zero := true
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("text %q: element %d is %v", texts[i], j, x)
			}
			zero = zero && x == 0
		}
		if zero {
			return nil, fmt.Errorf("text %q: the zero vector, which has no direction to compare", texts[i])
		}
	}
	return vs, nil
}
